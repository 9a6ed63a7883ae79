// A backend's local delivery in a cluster: an account whose mail this backend stores (its home
// in a static cluster, its lease or rendezvous choice in a dynamic one) goes into this node's
// Maildir; any other goes over the delivery channel to the backend placement names. No
// backend to name (home down, state unreachable) defers the whole job with scope destination:
// the queue keeps it and retries, it is never bounced for that, unless the account itself no
// longer exists (removed while its mail was queued: no home either), which is a 5.1.1.
import type { Placement } from "../cluster/placement.js";
import type { Directory } from "../directory/directory.js";
import { bounced, deferred, type Outcome } from "../proto/outcome.js";
import { REPLIES } from "../proto/reply.js";
import { perAccount, type Channel } from "./router.js";

export interface PlacedLocalOptions {
  readonly placement: Pick<Placement, "targetFor">;
  /** This node's mailboxes. */
  readonly mailbox: Channel;
  /** The delivery channel client to the other backends. */
  readonly channel: Channel;
  /** Asked only when placement names no backend: a removed account bounces, not waits. */
  readonly directory: Pick<Directory, "getAccount">;
}

export function createPlacedLocalChannel(o: PlacedLocalOptions): Channel {
  return perAccount(async (address, job): Promise<Outcome[]> => {
    const t = await o.placement.targetFor(address);
    if ("none" in t) {
      // A directory that cannot be asked leaves it a deferral, as placement's none is.
      const account = await o.directory.getAccount(address).catch(() => undefined);
      if (account === null) return job.recipients.map(() => bounced(REPLIES.unknownUser, "none"));
      const why = REPLIES.noTarget({ why: t.none });
      return job.recipients.map(() => deferred(why, "none", "destination"));
    }
    return t.local ? o.mailbox.deliver(job) : o.channel.deliver(job);
  });
}
