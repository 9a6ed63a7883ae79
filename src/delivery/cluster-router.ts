// The frontend's router: a frontend has no directory of its own, so whether a recipient is
// local is asked of the backends (the cluster API lookup, cached). Local recipients (accounts,
// aliases and unknown addresses of local domains) go to the delivery channel, which finds the
// backend that stores them; remote ones are relayed as on a single server. A lookup that no
// backend answers rejects, and the queue keeps the recipient and routes it again later: mail
// for a remote domain must not be pinned to the delivery channel by a passing outage.
import { toAsciiAddress } from "../proto/idna.js";
import type { RecipientLookup } from "../directory/directory.js";
import type { Deliverer, Route } from "../queue/types.js";
import type { Channel } from "./router.js";

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
  return {
    async route(rcpt): Promise<Route> {
      // An IDN domain as A-labels, as the single server's router does (router.ts).
      const address = toAsciiAddress(rcpt.address.toLowerCase()) ?? rcpt.address.toLowerCase();
      const found = await o.lookup(address);
      if (found.kind !== "remote") return { key: `local:${address}`, kind: "local" };
      if (o.forwardTo.length > 0) return { key: "forward:*", kind: "remote" };
      return { key: `relay:${address.slice(address.lastIndexOf("@") + 1)}`, kind: "remote" };
    },
    deliver(job) {
      return job.route.kind === "local" ? o.local.deliver(job) : o.relay.deliver(job);
    },
  };
}
