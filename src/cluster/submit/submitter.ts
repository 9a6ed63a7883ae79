// The Submit Messages path of a cluster member (seed "Remote Queue Processing"): Locally and
// Locally for Others enqueue here; Remotely hands the queue file to a live member that is
// Locally for Others, and when none is there or every try fails, enqueues here after all, so
// nothing is lost (a message whose 250 was lost on the way may then exist twice: a duplicate is
// preferred to a loss). A member's 5xx to the message itself is the answer, not a reason to
// try elsewhere (its filters refused it). Every remote submission is logged under SUBMIT: where it went, or why
// it fell back.
import type { Log } from "../../log/logger.js";
import type { SubmitResult, Submitter } from "../../queue/submit.js";
import { submitToMember, type RemoteSubmitClientOptions } from "./client.js";
import type { SubmitView } from "./view.js";

export interface ClusterSubmitterOptions {
  /** Null until the node has joined: everything goes to the local queue until then. */
  readonly view: () => SubmitView | null;
  readonly local: Submitter;
  readonly client: RemoteSubmitClientOptions;
  /** Members tried before falling back to the local queue. */
  readonly maxTries: number;
  /** Tag SUBMIT. */
  readonly log: Log;
}

export function clusterSubmitter(o: ClusterSubmitterOptions): Submitter {
  let turn = 0;
  return {
    async submit(draft, message): Promise<SubmitResult> {
      const view = o.view();
      if (view === null || view.mode() !== "Remotely") return o.local.submit(draft, message);
      const fields = {
        source: draft.source,
        from: draft.returnPath,
        nrcpt: draft.recipients.length,
        size: message.length,
      };
      const offering = view.offering();
      if (offering.length === 0) {
        o.log.problem("no member is Locally for Others, submitting locally", fields);
        return o.local.submit(draft, message);
      }
      // Spread the load: each submission starts at the next member; the rest are its failover.
      const start = turn++ % offering.length;
      const order = [...offering.slice(start), ...offering.slice(0, start)].slice(0, Math.max(1, o.maxTries));
      for (const m of order) {
        o.log.info("remote submit: sending", { ...fields, to: m.id, at: m.smtp });
        const r = await submitToMember(o.client, m, draft, message);
        if (r.ok) {
          o.log.low("submitted remotely", { ...fields, to: m.id, id: r.id });
          return { ok: true, id: r.id, node: m.id, remote: true };
        }
        // A 5xx to the message itself (a frontend's milter or rule refused it) is final: queueing
        // it here instead would deliver, unfiltered, what the filter refused.
        if (r.refused !== undefined) {
          o.log.problem("remote submit refused", { ...fields, to: m.id, reason: r.reason });
          return { ok: false, reply: r.refused };
        }
        o.log.problem("remote submit failed", { ...fields, to: m.id, reason: r.reason });
      }
      const local = await o.local.submit(draft, message);
      o.log.problem("remote submit failed on every member tried, submitted locally", {
        ...fields,
        tried: order.map((m) => m.id).join(","),
        id: local.ok ? local.id : null,
      });
      return local;
    },
  };
}
