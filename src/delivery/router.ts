// Which channel takes a recipient: the local mailbox channel for addresses in local domains,
// the relay channel (MX, or smtp.forwardTo) for everything else. Implements the queue's
// Deliverer contract; receiving and delivering meet only in the queue.
import { toAsciiAddress } from "../proto/idna.js";
import type { Directory } from "../directory/directory.js";
import type { Outcome } from "../proto/outcome.js";
import type { Deliverer, DeliveryJob, Route } from "../queue/types.js";

export interface Channel {
  deliver(job: DeliveryJob): Promise<Outcome[]>;
}

export interface RouterOptions {
  readonly directory: Directory;
  readonly local: Channel;
  readonly relay: Channel;
  /** smtp.forwardTo: when set, every remote recipient shares one destination queue. */
  readonly forwardTo: readonly string[];
}

/** A local channel's deliveries, by account: one job is one route, and a local route is one account. */
export function perAccount(deliver: (address: string, job: DeliveryJob) => Promise<Outcome[]>): Channel {
  return {
    deliver(job) {
      const address = job.recipients[0]?.rcpt.address;
      return address === undefined ? Promise.resolve([]) : deliver(address, job);
    },
  };
}

/** The single server's router: local domains are the directory's. */
export function createRouter(o: RouterOptions): Deliverer {
  // A directory failure here is routed as local: the local channel looks the account up
  // again and defers (temporary) if the directory is still unavailable.
  return routerBy((_address, domain) => o.directory.isLocalDomain(domain).catch(() => true), o);
}

/** A router whose answer to "is this address local" is `isLocal`; a rejection leaves it unrouted. */
export function routerBy(
  isLocal: (address: string, domain: string) => Promise<boolean>,
  o: Pick<RouterOptions, "local" | "relay" | "forwardTo">,
): Deliverer {
  return {
    async route(rcpt): Promise<Route> {
      // One spelling per destination: an IDN domain as A-labels (SMTP receipt already gives
      // them so; other sources and older queue files may not), as DNS needs it too.
      const address = toAsciiAddress(rcpt.address.toLowerCase()) ?? rcpt.address.toLowerCase();
      const domain = address.slice(address.lastIndexOf("@") + 1);
      if (await isLocal(address, domain)) return { key: `local:${address}`, kind: "local" };
      if (o.forwardTo.length > 0) return { key: "forward:*", kind: "remote" };
      return { key: `relay:${domain}`, kind: "remote" };
    },
    deliver(job) {
      return job.route.kind === "local" ? o.local.deliver(job) : o.relay.deliver(job);
    },
  };
}
