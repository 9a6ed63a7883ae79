// A deliverer that waits until the node is ready to deliver (a cluster member: until it has
// joined, so deliveries wait rather than fail for want of members). The queue starts before the
// listeners are bound, the node joins only after, and meanwhile nothing is routed.
import type { Deliverer } from "../queue/types.js";

export function gatedDeliverer(d: Deliverer, ready: Promise<void>): Deliverer {
  return {
    route: async (rcpt) => {
      await ready;
      return d.route(rcpt);
    },
    deliver: async (job) => {
      await ready;
      return d.deliver(job);
    },
  };
}
