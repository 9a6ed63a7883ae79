// The frontend's router: a frontend has no directory of its own, so whether a recipient is
// local is asked of the backends (the cluster API lookup, cached). Local recipients (accounts,
// aliases and unknown addresses of local domains) go to the delivery channel, which finds the
// backend that stores them; remote ones are relayed as on a single server. A lookup that no
// backend answers rejects, and the queue keeps the recipient and routes it again later: mail
// for a remote domain must not be pinned to the delivery channel by a passing outage.
import type { RecipientLookup } from "../directory/directory.js";
import type { Deliverer } from "../queue/types.js";
import { routerBy, type Channel } from "./router.js";

export interface ClusterRouterOptions {
  /** What an address is, asked of the backends; rejects when none answers. */
  readonly lookup: (address: string) => Promise<RecipientLookup>;
  /** The delivery channel to the backends. */
  readonly local: Channel;
  readonly relay: Channel;
  /** smtp.forwardTo: when set, every remote recipient shares one destination queue. */
  readonly forwardTo: readonly string[];
}

export function createClusterRouter(o: ClusterRouterOptions): Deliverer {
  return routerBy(async (address) => (await o.lookup(address)).kind !== "remote", o);
}
