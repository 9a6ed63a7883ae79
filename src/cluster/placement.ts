// Where an account's mail is stored. Static cluster: on its home backend, and only there (its
// mailbox is on that machine), so a home that is down means wait. Dynamic cluster: on whichever
// backend holds the account's lease; with no live holder, on the first live backend in the
// account's rendezvous order, so every node picks the same one and mail for one account
// converges on one backend without asking anyone.
//
// A "none" is always temporary for the caller (keep the mail queued, answer 4xx): homes get
// set and backends come back.
import type { Clock } from "../world/clock.js";
import type { Membership, MemberView } from "./membership.js";
import { rendezvousOrder } from "./rendezvous.js";
import { accountKey, type ClusterState } from "./state.js";

export type ClusterKind = "static" | "dynamic";

export type Target =
  /** local: the node is this one (store here, no delivery channel). */
  { readonly node: MemberView; readonly local: boolean } | { readonly none: string };

export interface PlacementOptions {
  readonly kind: ClusterKind;
  readonly state: ClusterState;
  readonly membership: Pick<Membership, "live">;
  readonly selfId: string;
  readonly clock: Clock;
}

export interface Placement {
  /** The backend that stores this account's mail now. Never rejects: state trouble is a none. */
  targetFor(address: string): Promise<Target>;
  /** A home for a new account in a static cluster (the caller records it with state.setHome). */
  chooseHome(address: string): Target;
  /** Whether a backend is live now (heartbeat recent): deliveries to one that is not stop early. */
  isLive(nodeId: string): boolean;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function createPlacement(o: PlacementOptions): Placement {
  // Another backend is reachable only through its delivery channel.
  const liveBackends = (): MemberView[] =>
    o.membership.live("backend").filter((m) => m.channel !== null || m.id === o.selfId);
  const target = (node: MemberView): Target => ({ node, local: node.id === o.selfId });

  const byRendezvous = (key: string, live: MemberView[]): Target => {
    const first = rendezvousOrder(
      key,
      live.map((m) => m.id),
    )[0];
    const node = live.find((m) => m.id === first);
    return node === undefined ? { none: "no live backend" } : target(node);
  };

  const staticTarget = async (key: string): Promise<Target> => {
    const home = await o.state.homeOf(key);
    if (home === null) return { none: `account ${key} has no home backend` };
    const node = liveBackends().find((m) => m.id === home);
    return node === undefined ? { none: `home backend ${home} of ${key} is down` } : target(node);
  };

  const dynamicTarget = async (key: string): Promise<Target> => {
    const live = liveBackends();
    const lease = await o.state.leaseOf(key, o.clock.now());
    const owner = lease === null ? undefined : live.find((m) => m.id === lease.owner);
    // A dead owner's lease still blocks others until it expires; the rendezvous choice will
    // answer "try later" until then and take the account over after.
    return owner !== undefined ? target(owner) : byRendezvous(key, live);
  };

  return {
    async targetFor(address) {
      const key = accountKey(address);
      try {
        return await (o.kind === "static" ? staticTarget(key) : dynamicTarget(key));
      } catch (e) {
        return { none: `cluster state unavailable: ${errorText(e)}` };
      }
    },
    chooseHome: (address) => byRendezvous(accountKey(address), liveBackends()),
    isLive: (nodeId) => o.membership.live("backend").some((m) => m.id === nodeId),
  };
}

/** Whether this node stores an account now (its home, or its lease holder or rendezvous pick). */
export function storesHere(placement: Pick<Placement, "targetFor">): (address: string) => Promise<boolean> {
  return async (address) => {
    const t = await placement.targetFor(address);
    return !("none" in t) && t.local;
  };
}
