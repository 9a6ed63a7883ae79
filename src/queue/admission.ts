// Admission: a new message is written to the spool under a fresh id, committed (fsync'd, then
// marked ready by the spool), and only then becomes an entry that the scheduler looks at. Mail
// generated here (DSNs, forwards) is submitted whole, its recipients expanded first.
//
// Invariants: a message without recipients is never committed; a submission that fails is aborted
// so no partial queue file is left behind.
import type { QueueContext } from "./context.js";
import type { Entries, Entry } from "./entries.js";
import type { Envelope } from "./envelope.js";
import { freshStates } from "./state-file.js";
import type { CommitOptions, EnvelopeDraft, Incoming, StoredMessage } from "./types.js";

export interface Admission {
  /** Start receiving a message (the caller checks the queue is not full). */
  begin(): Promise<Incoming>;
  /** Queue a whole message generated here. */
  readonly submit: (draft: EnvelopeDraft, message: Buffer) => Promise<Envelope>;
  readonly adopt: (m: StoredMessage, message: Buffer) => Promise<boolean>;
}

export interface AdmissionDeps {
  readonly entries: Entries;
  readonly nextId: () => string;
  /** Look at a newly admitted message (the scheduler). */
  readonly service: (e: Entry) => void;
  /** Final addresses for a recipient of generated mail (see QueueManagerOptions.expand). */
  readonly expand: ((address: string) => Promise<readonly string[]>) | undefined;
}

export function createAdmission(ctx: QueueContext, deps: AdmissionDeps): Admission {
  const { spool, log, metrics } = ctx;
  const { entries, nextId, service, expand } = deps;

  async function begin(): Promise<Incoming> {
    const id = nextId();
    const writer = await spool.begin(id);
    let size = 0;
    return {
      id,
      write(chunk) {
        size += chunk.length;
        return writer.write(chunk);
      },
      async commit(draft: EnvelopeDraft, opts?: CommitOptions) {
        if (draft.recipients.length === 0) throw new Error("message has no recipients");
        const envelope: Envelope = { ...draft, id, size };
        await writer.commit(envelope);
        const states = freshStates(envelope);
        // A quarantined message is saved as held before anyone sees it: the scheduler skips it
        // and a restart loads it held. (A crash between the two writes leaves it active.)
        if (opts?.held === true) await spool.saveState(id, "held", states);
        const e = entries.admit(envelope, opts?.held === true ? "held" : "active", states);
        log.low("message admitted", {
          id,
          source: envelope.source,
          from: envelope.returnPath,
          size,
          nrcpt: envelope.recipients.length,
        });
        service(e);
        return envelope;
      },
      abort: () => writer.abort(),
    };
  }

  async function expandDraft(draft: EnvelopeDraft): Promise<EnvelopeDraft> {
    if (expand === undefined) return draft;
    const recipients = [];
    for (const r of draft.recipients) {
      const targets = await expand(r.address);
      for (const address of targets)
        recipients.push(address === r.address ? r : { ...r, address, original: r.address });
    }
    return { ...draft, recipients };
  }

  async function submit(draft: EnvelopeDraft, message: Buffer): Promise<Envelope> {
    const expanded = await expandDraft(draft);
    const inc = await begin();
    try {
      await inc.write(message);
      const env = await inc.commit(expanded);
      metrics.messageReceived(draft.source);
      return env;
    } catch (err) {
      await inc.abort();
      throw err;
    }
  }

  /**
   * Take in a message another node accepted (its shadow copy, promoted at a take-over) under its
   * own id, with its recipient state as it was: delivered recipients stay delivered, retry
   * counts and warnings go on. False when a message with that id is already here.
   */
  async function adopt(m: StoredMessage, message: Buffer): Promise<boolean> {
    const { envelope } = m;
    if (entries.byId.has(envelope.id)) return false;
    const writer = await spool.begin(envelope.id);
    try {
      await writer.write(message);
      await writer.commit({ ...envelope, size: message.length });
    } catch (err) {
      await writer.abort();
      throw err;
    }
    const fresh =
      m.state === "active" && m.recipients.every((r) => r.status === "pending" && r.attempts === 0);
    if (!fresh) await spool.saveState(envelope.id, m.state, m.recipients);
    const e = entries.admit({ ...envelope, size: message.length }, m.state, m.recipients);
    log.low("message adopted", { id: envelope.id, from: envelope.returnPath, size: message.length });
    service(e);
    return true;
  }

  return { begin, submit, adopt };
}
