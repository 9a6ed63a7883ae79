// The messages the queue holds: one entry per message in memory (envelope, recipient states, a
// route and a busy flag per recipient) and its state file on disk. persist() saves recipient state
// before anything acts on it; a message whose recipients are all final and reported is removed
// from memory and the spool instead.
//
// Invariants: an entry marked gone is out of the table and never acted on again; dirty means the
// state in memory is newer than on disk (a save failed), so it must be saved again before acting.
import type { QueueContext } from "./context.js";
import type { Envelope, MessageState, RecipientState } from "./envelope.js";
import { wantsReport, type NotifyCondition } from "./notify.js";
import type { Route } from "./types.js";

export interface Entry {
  readonly envelope: Envelope;
  state: MessageState;
  readonly recipients: RecipientState[];
  /** Route per recipient, asked once per message. */
  readonly routes: (Route | undefined)[];
  /** Recipient is routed, queued or in flight. */
  readonly busy: boolean[];
  /** Time of this entry's live heap record; 0 when none. */
  wakeAt: number;
  gone: boolean;
  /** State in memory is newer than on disk after a failed save. */
  dirty: boolean;
  reporting: boolean;
  reportAgain: boolean;
}

export const allFinal = (e: Entry): boolean => e.recipients.every((r) => r.status !== "pending");

/** Something must be saved or reported before the message is worked on. */
export const needsSettle = (e: Entry): boolean =>
  e.dirty ||
  e.recipients.every((r) => r.status !== "pending") ||
  e.recipients.some((r) => r.status !== "pending" && !r.reported);

export const wants = (e: Entry, i: number, cond: NotifyCondition): boolean =>
  wantsReport(e.envelope, e.envelope.recipients[i]!, cond);

export interface Entries {
  readonly byId: ReadonlyMap<string, Entry>;
  admit(envelope: Envelope, state: MessageState, recipients: RecipientState[]): Entry;
  /** A finished and reported message leaves the queue; otherwise its state is saved. */
  persist(e: Entry): Promise<"removed" | "saved" | "failed">;
  remove(e: Entry, why: "removed" | "deleted"): Promise<void>;
  /** Out of the queue without touching the spool (it has already moved the file aside). */
  forget(e: Entry): void;
}

export function createEntries(ctx: QueueContext): Entries {
  const { spool, log } = ctx;
  const entries = new Map<string, Entry>();

  function admit(envelope: Envelope, state: MessageState, recipients: RecipientState[]): Entry {
    const e: Entry = {
      envelope,
      state,
      recipients,
      routes: envelope.recipients.map(() => undefined),
      busy: envelope.recipients.map(() => false),
      wakeAt: 0,
      gone: false,
      dirty: false,
      reporting: false,
      reportAgain: false,
    };
    entries.set(envelope.id, e);
    return e;
  }

  async function persist(e: Entry): Promise<"removed" | "saved" | "failed"> {
    if (allFinal(e) && e.recipients.every((r) => r.reported)) {
      await remove(e, "removed");
      return "removed";
    }
    try {
      await spool.saveState(e.envelope.id, e.state, e.recipients);
      e.dirty = false;
      return "saved";
    } catch (err) {
      log.failure("cannot save recipient state", { id: e.envelope.id, error: String(err) });
      e.dirty = true;
      return "failed";
    }
  }

  async function remove(e: Entry, why: "removed" | "deleted"): Promise<void> {
    if (e.gone) return;
    e.gone = true;
    entries.delete(e.envelope.id);
    try {
      await spool.remove(e.envelope.id);
      log.major(why === "deleted" ? "message deleted" : "message removed", { id: e.envelope.id });
    } catch (err) {
      log.failure("cannot remove queue file", { id: e.envelope.id, error: String(err) });
    }
  }

  function forget(e: Entry): void {
    e.gone = true;
    entries.delete(e.envelope.id);
  }

  return { byId: entries, admit, persist, remove, forget };
}
