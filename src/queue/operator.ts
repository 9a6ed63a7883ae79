// Operator actions on queued messages (admin API, CLI): list, show, hold, release, delete, retry
// now, reject. The operator is trusted to choose the message, not to write a safe reply: the
// reject text becomes a reply line in DSNs and logs, so it is cut to one bounded line.
//
// Invariants: hold and release are saved before they are logged; a rejection bounces only
// recipients still pending, and reports and saves them like any other bounce.
import { REPLIES } from "../proto/reply.js";
import type { QueueContext } from "./context.js";
import { wants, type Entries, type Entry } from "./entries.js";
import { logChange } from "./outcomes.js";
import type { Scheduler } from "./scheduler.js";
import { summarize } from "./summary.js";
import type { Queue } from "./types.js";

export type OperatorActions = Pick<
  Queue,
  "list" | "show" | "hold" | "release" | "delete" | "retryNow" | "reject"
>;

export interface OperatorDeps {
  readonly entries: Entries;
  readonly scheduler: Scheduler;
  /** Look at a message again now (settle it or schedule it). */
  readonly wakeUp: (e: Entry) => void;
  readonly settle: (e: Entry, delays: number[]) => Promise<void>;
}

// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f]+/g;
const operatorText = (text: string): string =>
  text.replace(CONTROLS, " ").trim().slice(0, 500) || "Message rejected by the administrator";

export function createOperator(ctx: QueueContext, deps: OperatorDeps): OperatorActions {
  const { spool, clock, log, metrics } = ctx;
  const { entries, scheduler, wakeUp, settle } = deps;
  const byId = entries.byId;

  return {
    list: () => [...byId.values()].map((e) => summarize(e.envelope, e.state, e.recipients)),
    show(id) {
      const e = byId.get(id);
      return e === undefined ? null : summarize(e.envelope, e.state, e.recipients);
    },

    async hold(id) {
      const e = byId.get(id);
      if (e === undefined) return false;
      if (e.state !== "held") {
        e.state = "held";
        await spool.saveState(id, e.state, e.recipients);
        log.major("message held", { id });
      }
      return true;
    },

    async release(id) {
      const e = byId.get(id);
      if (e === undefined) return false;
      if (e.state === "held") {
        e.state = "active";
        await spool.saveState(id, e.state, e.recipients);
        log.major("message released", { id });
      }
      wakeUp(e);
      return true;
    },

    async delete(id) {
      const e = byId.get(id);
      if (e === undefined) return false;
      await entries.remove(e, "deleted");
      return true;
    },

    retryNow(id) {
      const e = byId.get(id);
      if (e === undefined) return Promise.resolve(false);
      e.recipients.forEach((r, i) => {
        if (r.status !== "pending") return;
        r.nextAttempt = 0;
        // The operator says the destination is worth another try.
        const route = e.routes[i];
        if (route !== undefined) scheduler.retryDestination(route.key);
      });
      wakeUp(e);
      return Promise.resolve(true);
    },

    async reject(id, text) {
      const e = byId.get(id);
      if (e === undefined) return false;
      const why = REPLIES.operatorRejected({ text: operatorText(text) });
      const now = clock.now();
      let changed = false;
      e.recipients.forEach((r, i) => {
        if (r.status !== "pending") return;
        changed = true;
        r.status = "bounced";
        r.lastReply = { code: why.code, enhanced: why.enhanced, text: why.text };
        r.lastRelay = "none";
        r.reported = !wants(e, i, "FAILURE");
        logChange(log, e, i, "bounced", "failed", r, now);
        metrics.recipientBounced(e.routes[i]?.kind ?? "remote");
      });
      if (changed) await settle(e, []);
      return true;
    },
  };
}
