// Where accounts live, over the cluster state, as the admin API's account routes see it: the
// home backends of a static cluster, and the current owners (ownership leases) of a dynamic one.
// Owners are read with the node's clock, the one its lease keeper uses, so "expired" means the
// same thing on the account pages as it does to the backends taking accounts over.
import type { Log } from "../log/logger.js";
import type { Reply } from "../proto/reply.js";
import type { Clock } from "../world/clock.js";
import { pickHome, requireHome } from "./homes.js";
import type { ClusterKind } from "./placement.js";
import type { ClusterState } from "./state.js";

/** Home backends of a static cluster, as the account routes need them. */
export interface AccountHomes {
  /** Before creating: the home the account will get (requested or chosen), or why none. */
  choose(address: string, requested: string | undefined): Promise<{ node: string } | { refused: string }>;
  record(address: string, node: string): Promise<void>;
  forget(address: string): Promise<void>;
  /** Every account's home (the account list shows them). */
  all(): Promise<readonly { account: string; node: string }[]>;
  /** One account's home, or null (an account from before homes were kept). */
  of(address: string): Promise<string | null>;
  /** Moves an account to another home backend (a backend member), or why not. */
  move(address: string, node: string): Promise<{ node: string } | { refused: string }>;
}

/** An account's current owner in a dynamic cluster: the backend holding its unexpired lease. */
export interface AccountOwner {
  readonly node: string;
  readonly token: number;
  readonly expiresAt: number;
}

/** Who holds which account open in a dynamic cluster, as of the node's clock. */
export interface AccountOwners {
  /** Every account with an owner now (one query, however many accounts). */
  all(): Promise<readonly { account: string; owner: AccountOwner }[]>;
  of(address: string): Promise<AccountOwner | null>;
}

export interface StaticHomesOptions {
  readonly state: ClusterState;
  /** The backends live now: a new account without a requested home goes to one of them. */
  readonly liveBackends: () => readonly string[];
  /** Tagged CLUSTER. */
  readonly log: Log;
}

/** Static clusters: every new account gets a home backend (homes.ts), and may move. */
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

export interface MemberPlacementOptions extends StaticHomesOptions {
  readonly kind: ClusterKind;
  readonly clock: Clock;
}

/**
 * What a cluster member's account routes and RCPT check make of where accounts live. Static
 * clusters: every account has a home backend (homes.ts); new accounts get one through the admin
 * API of any member, and mail for an older account without one is refused with a 4xx at RCPT
 * rather than queued until it expires. Dynamic clusters: the account pages show who holds each
 * account open, and any account is storable (its lease is taken at the first message).
 */
export function memberPlacement(o: MemberPlacementOptions): {
  readonly routes: { readonly homes: AccountHomes } | { readonly owners: AccountOwners };
  readonly storable?: (address: string) => Promise<Reply | null>;
} {
  return o.kind === "static"
    ? { routes: { homes: staticHomes(o) }, storable: requireHome(o.state) }
    : { routes: { owners: leaseOwners(o.state, o.clock) } };
}
