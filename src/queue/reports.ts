// Delivery status notifications (RFC 3464) for a message's sender: failure, delay and success
// reports, built by dsn.ts with the original message or its headers, and submitted to this queue
// from the null sender. A report that cannot be enqueued or recorded is tried again later; the
// message stays in the queue until every report it needs is enqueued.
//
// Invariants: the null sender never gets a report (no bounce loops, RFC 5321 §4.5.5); a recipient
// is marked reported only once its report is in the queue; failure and success reports wait
// while another recipient of the message is in a delivery, so those that end together share one.
import { isAscii } from "node:buffer";
import type { QueueContext } from "./context.js";
import type { DsnAction, DsnInput, DsnKind } from "./dsn.js";
import type { Entries, Entry } from "./entries.js";
import type { Envelope } from "./envelope.js";
import { readOriginal } from "./original.js";
import { expiresAt } from "./retry.js";
import type { Timetable } from "./timetable.js";
import type { EnvelopeDraft } from "./types.js";

/** Without RET, failure reports carry the whole message up to this size, else its headers. */
const DEFAULT_FULL_RETURN = 64 * 1024;
/** RET=FULL is honoured up to this size; above it the headers go back (RFC 3461 §4.3 allows this). */
const MAX_FULL_RETURN = 10 * 1024 * 1024;

export interface Reports {
  /** Send the failure and success reports due for e, and record that they were sent. */
  report(e: Entry): Promise<void>;
  /** Enqueue one report about these recipients; false when it could not be enqueued. */
  send(e: Entry, kind: DsnKind, idxs: readonly number[]): Promise<boolean>;
}

export interface ReportDeps {
  readonly entries: Entries;
  readonly timetable: Timetable;
  readonly hostname: string;
  readonly makeDsn: (input: DsnInput) => Buffer;
  readonly nextId: () => string;
  readonly submit: (draft: EnvelopeDraft, message: Buffer) => Promise<Envelope>;
}

export function createReports(ctx: QueueContext, deps: ReportDeps): Reports {
  const { spool, clock, log } = ctx;
  // ctx.policy, read at each use: managed settings may change the retry keys while we run.
  const { entries, timetable, hostname, makeDsn, nextId, submit } = deps;

  async function report(e: Entry): Promise<void> {
    if (e.reporting) {
      e.reportAgain = true;
      return;
    }
    e.reporting = true;
    try {
      do {
        e.reportAgain = false;
        if (e.gone) return;
        // One report for recipients that end together: while another recipient is being tried
        // right now, wait for it (its outcome settles the message again, and reports then), as
        // Postfix's qmgr sends one bounce per pass over a queue file. Without this, recipients
        // of one message on different routes (two accounts on one backend) got a DSN each.
        if (e.recipients.some((r, i) => r.status === "pending" && e.busy[i] === true)) break;
        const failed: number[] = [];
        const done: number[] = [];
        e.recipients.forEach((r, i) => {
          if (r.reported || r.status === "pending") return;
          (r.status === "bounced" ? failed : done).push(i);
        });
        if (failed.length === 0 && done.length === 0) break;
        let ok = true;
        for (const [kind, idxs] of [
          ["failure", failed],
          ["success", done],
        ] as const) {
          if (idxs.length === 0) continue;
          if (await send(e, kind, idxs)) for (const i of idxs) e.recipients[i]!.reported = true;
          else ok = false;
        }
        if (e.gone) return;
        const saved = await entries.persist(e);
        if (saved === "removed") return;
        if (saved === "failed") ok = false;
        // A report that could not be enqueued or recorded is tried again later (the message stays).
        if (!ok) timetable.wake(e, clock.now() + ctx.policy.firstRetryMs);
      } while (e.reportAgain);
    } finally {
      e.reporting = false;
    }
  }

  async function send(e: Entry, kind: DsnKind, idxs: readonly number[]): Promise<boolean> {
    const env = e.envelope;
    if (env.returnPath === "") return true;
    try {
      // A REQUIRETLS message's report goes with REQUIRETLS too, and without the body: the report
      // may take a path the sender did not ask for (RFC 8689 §5).
      const fullUpTo =
        kind !== "failure" || env.ret === "HDRS" || env.body === "BINARYMIME" || env.requireTls === true
          ? 0
          : env.ret === "FULL"
            ? MAX_FULL_RETURN
            : DEFAULT_FULL_RETURN;
      const original = await readOriginal(spool.body(env.id), env.size, fullUpTo);
      const now = clock.now();
      const action = (i: number): DsnAction =>
        kind === "failure"
          ? "failed"
          : kind === "delay"
            ? "delayed"
            : e.routes[i]?.kind === "remote"
              ? "relayed"
              : "delivered";
      const message = makeDsn({
        kind,
        reportingMta: hostname,
        envelope: env,
        recipients: idxs.map((i) => ({
          rcpt: env.recipients[i]!,
          action: action(i),
          reply: e.recipients[i]!.lastReply,
          relay: e.recipients[i]!.lastRelay,
        })),
        originalHeaders: original.headers,
        originalMessage: original.message,
        now,
        messageId: `${nextId()}@${hostname}`,
        ...(kind === "delay" ? { willRetryUntil: expiresAt(ctx.policy, env.arrival) } : {}),
      });
      const dsn = await submit(
        {
          returnPath: "",
          recipients: [{ address: env.returnPath, original: null, notify: "NEVER", orcpt: null }],
          ret: null,
          envid: null,
          // The report quotes remote replies, which may be UTF-8, whatever the original was.
          body: env.body === "7BIT" && !env.smtputf8 && isAscii(message) ? "7BIT" : "8BITMIME",
          smtputf8: env.smtputf8,
          ...(env.requireTls === true ? { requireTls: true } : {}),
          source: "dsn",
          authUser: null,
          client: null,
          arrival: now,
        },
        message,
      );
      log.major("sender notification", {
        id: env.id,
        kind,
        dsn_id: dsn.id,
        to: env.returnPath,
        nrcpt: idxs.length,
      });
      return true;
    } catch (err) {
      log.failure("cannot enqueue sender notification", { id: env.id, kind, error: String(err) });
      return false;
    }
  }

  return { report, send };
}
