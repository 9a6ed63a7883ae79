// The cluster state: who the members are and whether they are alive, cluster-wide settings,
// where accounts live (static clusters: a home backend) and who has an account open (dynamic
// clusters: an ownership lease with a fencing token). Every method is async so that the
// embedded SQLite adapter (one machine, many processes) and a PostgreSQL adapter (many
// machines) share one contract: test/contracts/cluster-state.ts is that contract as tests.
//
// Times are milliseconds since the epoch, always passed in by the caller (who owns the clock),
// except register(), which stamps the first heartbeat with the adapter's clock. Account
// addresses are compared lower-cased; node ids exactly as given.

import { toAsciiAddress } from "../proto/idna.js";

export type Role = "frontend" | "backend" | "single";
export const ROLES: readonly Role[] = ["frontend", "backend", "single"];

/** What a node says about itself when it joins. */
export interface MemberInfo {
  readonly id: string;
  readonly role: Role;
  /** host:port of its first SMTP listener. */
  readonly smtp: string;
  /** host:port of its first submissions (implicit TLS, port 465) listener; absent or "" for none. */
  readonly submissions?: string;
  /** host:port of its HTTP listener (admin API and the cluster API). */
  readonly http: string;
  /** host:port of its delivery channel (LMTP between members); backends only, else null. */
  readonly channel: string | null;
  /** The node's Submit Messages setting (DESIGN.md §3): "default", "Locally", ... */
  readonly submitMessages: string;
  readonly startedAt: number;
}

/** A member as the state knows it. Whether it is up is the reader's judgement (membership.ts). */
export interface MemberRecord extends MemberInfo {
  /** "" when the member has no submissions listener. */
  readonly submissions: string;
  readonly lastHeartbeat: number;
  /** Messages in its queue at its last heartbeat. */
  readonly queueSize: number;
  /** It stopped gracefully: down at once, whatever its last heartbeat. */
  readonly left: boolean;
}

export interface Setting {
  readonly key: string;
  readonly value: string;
}

export interface Home {
  readonly account: string;
  readonly node: string;
}

/**
 * An account open on one backend until expiresAt. The token grows with every change of hands
 * and is never reused, so a store can refuse a writer whose token is not the current one.
 */
export interface Lease {
  readonly account: string;
  readonly owner: string;
  readonly token: number;
  readonly expiresAt: number;
}

/** acquireLease's answer when another node holds an unexpired lease. */
export interface LeaseHeld {
  readonly heldBy: string;
  readonly expiresAt: number;
}

export const isLease = (r: Lease | LeaseHeld): r is Lease => "token" in r;

/**
 * Whose queue a node's spool is (issue 16): its own, or a peer's that took it over when the node
 * went silent (and promoted the shadow copies it held). The token grows with every change of
 * hands, so a take-over that read an older epoch fails.
 */
export interface SpoolEpoch {
  readonly node: string;
  readonly holder: string;
  readonly token: number;
  readonly at: number;
}

/** One take-over: the ids `by` promoted from node's shadow copies, recorded with the epoch it took. */
export interface SpoolTakeover {
  readonly node: string;
  readonly token: number;
  readonly by: string;
  readonly at: number;
  readonly ids: readonly string[];
}

export type ChangeKind = "members" | "settings" | "homes" | "leases";
export const CHANGE_KINDS: readonly ChangeKind[] = ["members", "settings", "homes", "leases"];

/**
 * Something others must see soon changed: a member joined, left or changed what it advertises
 * (heartbeats are not changes), a setting, a home, a lease changing hands (renewals are not).
 * key names the row (member id, setting key, account) when the adapter knows it; null means
 * "re-read this kind" (after a reconnect, or from an adapter that only knows that it changed).
 */
export interface StateChange {
  readonly kind: ChangeKind;
  readonly key: string | null;
}

export interface ClusterState {
  // Members.
  /** Join or rejoin (upsert): clears `left`, stamps the heartbeat with the adapter's clock. */
  register(member: MemberInfo): Promise<void>;
  /** False when no such member is registered and present (unknown or left): register again. */
  heartbeat(id: string, at: number, queueSize: number): Promise<boolean>;
  /** Graceful stop: the member is down for everyone at once. */
  leave(id: string): Promise<void>;
  /** Every member ever registered (left ones too), by id. */
  members(): Promise<MemberRecord[]>;

  // Cluster-wide settings (defaults every node reads).
  getSetting(key: string): Promise<string | null>;
  /** null removes the key. */
  setSetting(key: string, value: string | null): Promise<void>;
  listSettings(): Promise<Setting[]>;

  // Static clusters: each account's home backend.
  homeOf(address: string): Promise<string | null>;
  setHome(address: string, nodeId: string): Promise<void>;
  clearHome(address: string): Promise<void>;
  homes(): Promise<Home[]>;

  // Dynamic clusters: ownership leases. Each call is atomic across processes and machines.
  /**
   * Take the account for nodeId: a free or expired lease is taken with a greater token; our own
   * unexpired lease is renewed with the same token; anyone else's unexpired lease is LeaseHeld.
   */
  acquireLease(address: string, nodeId: string, now: number, ttlMs: number): Promise<Lease | LeaseHeld>;
  /** Extend while the token is still current (even if expired, nobody took it); else null. */
  renewLease(lease: Lease, now: number, ttlMs: number): Promise<Lease | null>;
  /** Give the account up if the token is still current; false if it was no longer ours. */
  releaseLease(lease: Lease): Promise<boolean>;
  /** The unexpired lease on an account, if any. */
  leaseOf(address: string, now: number): Promise<Lease | null>;
  /** Every unexpired lease, by account. */
  leases(now: number): Promise<Lease[]>;

  // Spool epochs (shadow copies and take-over, src/cluster/shadow/takeover.ts).
  /** The epoch of a node's spool, or null when none was ever taken. */
  spoolEpoch(node: string): Promise<SpoolEpoch | null>;
  /**
   * Give node's spool to `by` if its token is still `expected` (0 when it has none), with a
   * greater token, and record `promoted` under it (when not empty), in one transaction; null
   * when the token had moved on (someone else took it first).
   */
  takeSpool(
    node: string,
    by: string,
    expected: number,
    promoted: readonly string[],
    now: number,
  ): Promise<SpoolEpoch | null>;
  /** The take-overs of node's spool with a token greater than `after`, oldest first. */
  spoolTakeovers(node: string, after: number): Promise<SpoolTakeover[]>;

  /**
   * Changes made by anyone (this process included), within about a second, without polling the
   * tables (PostgreSQL: LISTEN/NOTIFY; SQLite: a cheap poll of a change counter). Optional: a
   * reader without it refreshes on its own timer. Returns unsubscribe.
   */
  subscribe?(fn: (change: StateChange) => void): () => void;

  close(): Promise<void>;
}

/** Account key as every adapter stores it: lower-case, an IDN domain as A-labels (proto/idna.ts). */
export const accountKey = (address: string): string => {
  const a = address.trim().toLowerCase();
  return toAsciiAddress(a) ?? a;
};
