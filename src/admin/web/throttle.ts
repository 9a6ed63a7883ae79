// Brute-force throttling of WebAdmin logins, per user name and per client address. Each key
// may fail `free` times; every failure after that locks the key for base·2^(n−free), at most
// `maxMs`, during which attempts are refused without checking the password (so a locked
// account costs an attacker time, not us scrypt work). A success clears the user's and the
// address's counts. The counts live in the state beside the administrators (ThrottleRows, one
// adapter per backend), so a guesser spread over every member behind a balancer meets one lock,
// not one per member. Keys are untrusted (names typed at the login form): the table is bounded,
// the least recently failed dropped first, and an entry forgotten once idle for `forgetMs`.
import type { Clock } from "../../world/clock.js";

export interface ThrottleOptions {
  readonly clock: Clock;
  readonly rows: ThrottleRows;
  /** Failures allowed per user name before it is locked. */
  readonly freeFailures: number;
  /** Per client address: more, since many administrators may share one address (NAT). */
  readonly freeFailuresPerAddress: number;
  /** The first lock; each further failure doubles it. */
  readonly baseMs: number;
  readonly maxMs: number;
  readonly maxEntries?: number;
}

/** How an adapter keeps the counts. Each call is atomic across processes. */
export interface ThrottleRows {
  /** The latest lockedUntil of these keys (0: none locked). */
  lockedUntil(keys: readonly string[]): Promise<number>;
  /**
   * Counts one failure: a key idle since before `forgetBefore` and unlocked starts again from
   * one; once the count reaches `free` the key is locked until now + min(maxMs, baseMs·2^(n−free)).
   */
  fail(
    key: string,
    f: { now: number; free: number; baseMs: number; maxMs: number; forgetBefore: number },
  ): Promise<void>;
  clear(keys: readonly string[]): Promise<void>;
  /** Drops what was forgotten, then all but the `keep` most recently failed. */
  prune(forgetBefore: number, now: number, keep: number): Promise<void>;
}

export interface LoginThrottle {
  /** ms until attempts for this user from this address are allowed again; 0 = go ahead. */
  wait(user: string, address: string): Promise<number>;
  failed(user: string, address: string): Promise<void>;
  succeeded(user: string, address: string): Promise<void>;
}

// The bound is enforced every this many failures (pruning is a scan; failures are cheap).
const PRUNE_EVERY = 100;

export function createLoginThrottle(opts: ThrottleOptions): LoginThrottle {
  const maxEntries = opts.maxEntries ?? 10_000;
  const forgetMs = Math.max(opts.maxMs * 2, 3_600_000);
  const keys = (user: string, address: string) => [`u:${user.trim().toLowerCase()}`, `a:${address}`];
  let failures = 0;

  return {
    async wait(user, address) {
      const now = opts.clock.now();
      return Math.max(0, (await opts.rows.lockedUntil(keys(user, address))) - now);
    },
    async failed(user, address) {
      const now = opts.clock.now();
      const [u, a] = keys(user, address);
      const f = { now, baseMs: opts.baseMs, maxMs: opts.maxMs, forgetBefore: now - forgetMs };
      await opts.rows.fail(u!, { ...f, free: opts.freeFailures });
      await opts.rows.fail(a!, { ...f, free: opts.freeFailuresPerAddress });
      if (++failures % PRUNE_EVERY === 0) await opts.rows.prune(now - forgetMs, now, maxEntries);
    },
    succeeded: (user, address) => opts.rows.clear(keys(user, address)),
  };
}

/** The lock a key gets at its n-th failure (0: none yet). */
export const lockMs = (n: number, f: { free: number; baseMs: number; maxMs: number }): number =>
  n < f.free ? 0 : Math.min(f.maxMs, f.baseMs * 2 ** Math.min(30, n - f.free));
