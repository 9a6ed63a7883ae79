// A backend's local delivery in a cluster: an account whose mail this backend stores (its home
// in a static cluster, its lease or rendezvous choice in a dynamic one) goes into this node's
// Maildir; any other goes over the delivery channel to the backend placement names. No
// backend to name (home down, state unreachable) defers the whole job with scope destination:
// the queue keeps it and retries, it is never bounced for that.
import type { Placement } from "../cluster/placement.js";
import { deferred, type Outcome } from "../proto/outcome.js";
import { REPLIES } from "../proto/reply.js";
import type { Channel } from "./router.js";

export interface PlacedLocalOptions {
  readonly placement: Pick<Placement, "targetFor">;
  /** This node's mailboxes. */
  readonly mailbox: Channel;
  /** The delivery channel client to the other backends. */
  readonly channel: Channel;
}

export function createPlacedLocalChannel(o: PlacedLocalOptions): Channel {
  return {
    async deliver(job): Promise<Outcome[]> {
      // One job is one route, and a local route is one account.
      const address = job.recipients[0]?.rcpt.address;
      if (address === undefined) return [];
      const t = await o.placement.targetFor(address);
      if ("none" in t) {
        const why = REPLIES.noTarget({ why: t.none });
        return job.recipients.map(() => deferred(why, "none", "destination"));
      }
      return t.local ? o.mailbox.deliver(job) : o.channel.deliver(job);
    },
  };
}
