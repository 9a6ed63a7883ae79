// Outcome application: turns what happened to each recipient (a delivery outcome, or the expiry of
// a deferred one) into its recorded state, next attempt time and one log line, then settles the
// message: state saved first, then delay warnings and final reports, then the next wake-up.
//
// Invariants: only here does a temporary failure become a bounce, and only at expiry (for a local
// mailbox that is full, 4.2.2, after local.overQuotaGiveUpHours: smtp.overQuota = queue keeps
// mail for a full mailbox a day by default, not the queue's whole lifetime); a recipient
// that is no longer pending (rejected or deleted meanwhile) keeps the operator's decision; nothing
// is reported or scheduled until the new state is on disk.
import type { Log } from "../log/logger.js";
import type { QueueContext } from "./context.js";
import { dsnStatus, type DsnAction } from "./dsn.js";
import { needsSettle, wants, type Entries, type Entry } from "./entries.js";
import type { RecipientState } from "./envelope.js";
import type { Reports } from "./reports.js";
import type { DeliveryKind } from "../log/metrics.js";
import { expiresAt, nextAttemptAt, warningsCrossed } from "./retry.js";
import type { ApplyOutcomes } from "./scheduler.js";
import type { Timetable } from "./timetable.js";

export interface Outcomes {
  readonly apply: ApplyOutcomes;
  /** Persist, then act: delay warnings, failure/success reports, removal, next wake-up. */
  readonly settle: (e: Entry, delays: number[]) => Promise<void>;
}

/** One line per recipient state change, as Postfix logs them (to=, relay=, delay=, dsn=, status=). */
export function logChange(
  log: Log,
  e: Entry,
  i: number,
  status: string,
  action: DsnAction,
  r: RecipientState,
  now: number,
): void {
  const rcpt = e.envelope.recipients[i]!;
  log.major("recipient status", {
    id: e.envelope.id,
    to: rcpt.address,
    orig_to: rcpt.original ?? undefined,
    relay: r.lastRelay ?? "none",
    delay: Math.round((now - e.envelope.arrival) / 10) / 100,
    dsn: dsnStatus(action, r.lastReply),
    status,
    reply: r.lastReply === null ? undefined : `${r.lastReply.code} ${r.lastReply.text}`,
  });
}

export function createOutcomes(
  ctx: QueueContext,
  entries: Entries,
  timetable: Timetable,
  reports: Reports,
  service: (e: Entry) => void,
): Outcomes {
  const { clock, random, log, metrics } = ctx;
  // ctx.policy, read at each use: managed settings may change the retry keys while we run.

  /** When a deferred recipient expires: the queue's lifetime, or sooner for a full local mailbox. */
  const giveUpAt = (e: Entry, kind: DeliveryKind, enhanced: string | null): number => {
    const end = expiresAt(ctx.policy, e.envelope.arrival);
    // RFC 3463 X.2.2: mailbox full. Local: our own mailbox channel or a backend's, over the delivery channel.
    if (kind !== "local" || enhanced !== "4.2.2") return end;
    return Math.min(end, e.envelope.arrival + ctx.local.overQuotaGiveUpHours * 3600 * 1000);
  };

  const apply: ApplyOutcomes = async (e, results, kind, opts) => {
    const now = clock.now();
    const delays: number[] = [];
    let changed = false;
    for (const [i, out] of results) {
      e.busy[i] = false;
      const r = e.recipients[i];
      // Rejected or deleted meanwhile: the operator's decision stands.
      if (r === undefined || e.gone || r.status !== "pending") continue;
      changed = true;
      r.lastReply = { code: out.reply.code, enhanced: out.reply.enhanced, text: out.reply.text };
      r.lastRelay = out.relay;
      if (opts.countAttempt) r.attempts++;
      switch (out.kind) {
        case "delivered":
          r.status = "delivered";
          r.reported = !wants(e, i, "SUCCESS");
          logChange(log, e, i, "sent", "delivered", r, now);
          metrics.recipientDelivered(kind, now - e.envelope.arrival);
          break;
        case "bounced":
          r.status = "bounced";
          r.reported = !wants(e, i, "FAILURE");
          logChange(log, e, i, "bounced", "failed", r, now);
          metrics.recipientBounced(kind);
          break;
        case "deferred": {
          // Only the queue turns a temporary failure into a bounce, and only at expiry.
          const until = giveUpAt(e, kind, out.reply.enhanced);
          if (now >= until) {
            r.status = "bounced";
            r.reported = !wants(e, i, "FAILURE");
            logChange(log, e, i, "expired", "failed", r, now);
            metrics.recipientBounced(kind);
            break;
          }
          r.nextAttempt = Math.min(
            opts.nextAt !== undefined
              ? opts.nextAt
              : nextAttemptAt(ctx.policy, e.envelope.arrival, Math.max(r.attempts, 1), now, random),
            until,
          );
          {
            const crossed = warningsCrossed(ctx.policy, e.envelope.arrival, now);
            if (crossed > r.warningsSent) {
              r.warningsSent = crossed;
              if (wants(e, i, "DELAY")) delays.push(i);
            }
          }
          logChange(log, e, i, "deferred", "delayed", r, now);
          metrics.recipientDeferred(kind);
          break;
        }
      }
    }
    // Unchanged recipients can still leave reports owed: reports wait while any recipient is in a
    // delivery (reports.ts), and this job was the last one under way.
    if (changed || needsSettle(e)) await settle(e, delays);
    else service(e);
  };

  async function settle(e: Entry, delays: number[]): Promise<void> {
    if (e.gone) return;
    const saved = await entries.persist(e);
    if (saved === "failed") timetable.wake(e, clock.now() + ctx.policy.firstRetryMs);
    if (saved !== "saved" || e.gone) return;
    if (delays.length > 0) await reports.send(e, "delay", delays);
    await reports.report(e);
    service(e);
  }

  return { apply, settle };
}
