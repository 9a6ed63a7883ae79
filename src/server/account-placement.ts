// Where accounts live, over the cluster state, as the admin API's account routes see it: the
// home backends of a static cluster, and the current owners (ownership leases) of a dynamic one.
// Owners are read with the node's clock, the one its lease keeper uses, so "expired" means the
// same thing on the account pages as it does to the backends taking accounts over.
import type { AccountHomes, AccountOwners } from "../admin/directory-routes.js";
import { pickHome } from "../cluster/homes.js";
import type { ClusterState } from "../cluster/state.js";
import type { Log } from "../log/logger.js";
import type { Clock } from "../world/clock.js";

export interface StaticHomesOptions {
  readonly state: ClusterState;
  /** The backends live now: a new account without a requested home goes to one of them. */
  readonly liveBackends: () => readonly string[];
  /** Tagged CLUSTER. */
  readonly log: Log;
}

/** Static clusters: every new account gets a home backend (cluster/homes.ts), and may move. */
export function staticHomes(o: StaticHomesOptions): AccountHomes {
  const { state, log } = o;
  return {
    choose: (address, requested) => pickHome(state, { address, requested, liveBackends: o.liveBackends() }),
    record: async (address, node) => {
      await state.setHome(address, node);
      log.major("account home assigned", { account: address.toLowerCase(), node });
    },
    forget: (address) => state.clearHome(address),
    all: () => state.homes(),
    of: (address) => state.homeOf(address),
    move: async (address, node) => {
      const member = (await state.members()).find((m) => m.id === node);
      if (member === undefined) return { refused: `${node} has never joined the cluster` };
      if (member.role !== "backend") return { refused: `${node} is a ${member.role}, not a backend` };
      await state.setHome(address, node);
      log.major("account home moved", { account: address.toLowerCase(), node });
      return { node };
    },
  };
}

/** Dynamic clusters: who holds each account's unexpired lease now, or nobody. */
export function leaseOwners(state: ClusterState, clock: Clock): AccountOwners {
  return {
    all: async () =>
      (await state.leases(clock.now())).map((l) => ({
        account: l.account,
        owner: { node: l.owner, token: l.token, expiresAt: l.expiresAt },
      })),
    of: async (address) => {
      const l = await state.leaseOf(address, clock.now());
      return l === null ? null : { node: l.owner, token: l.token, expiresAt: l.expiresAt };
    },
  };
}
