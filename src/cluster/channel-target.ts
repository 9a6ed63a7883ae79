// Where a delivery channel job goes: the backend placement names for its account (a local job
// is one address's, the router keys local jobs by address), at the channel address that backend
// advertises. The address comes from the shared state, written by
// another member: it is parsed here, and a backend without a usable one is "none", a reason the
// channel client turns into a deferral.
import { parseHostPort } from "../proto/hostport.js";
import type { DeliveryJob } from "../queue/types.js";
import type { Placement } from "./placement.js";

export interface ChannelAddress {
  /** The backend's node id. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Whether the backend's heartbeat is still recent (a hung one's lapses: stop waiting on it). */
  readonly live?: () => boolean;
}

export function channelTargetFor(
  placement: Pick<Placement, "targetFor" | "isLive">,
): (job: DeliveryJob) => Promise<ChannelAddress | { readonly none: string }> {
  return async (job) => {
    const t = await placement.targetFor(job.recipients[0]?.rcpt.address ?? "");
    if ("none" in t) return t;
    if (t.node.channel === null) return { none: `backend ${t.node.id} has no delivery channel` };
    try {
      const hp = parseHostPort(t.node.channel);
      const id = t.node.id;
      return { id, host: hp.host, port: hp.port, live: () => placement.isLive(id) };
    } catch {
      return { none: `backend ${t.node.id} advertises an unusable channel address` };
    }
  };
}
