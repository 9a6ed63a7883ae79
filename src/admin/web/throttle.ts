// Brute-force throttling of WebAdmin logins, per user name and per client address. Each key
// may fail `free` times; every failure after that locks the key for base·2^(n−free), at most
// `maxMs`, during which attempts are refused without checking the password (so a locked
// account costs an attacker time, not us scrypt work). A success clears the user's and the
// address's counts. Keys are untrusted (names typed at the login form): the table is bounded,
// the oldest entries dropped first, and an entry forgotten once idle for `forgetMs`.
import type { Clock } from "../../world/clock.js";

export interface ThrottleOptions {
  readonly clock: Clock;
  /** Failures allowed per user name before it is locked. */
  readonly freeFailures: number;
  /** Per client address: more, since many administrators may share one address (NAT). */
  readonly freeFailuresPerAddress: number;
  /** The first lock; each further failure doubles it. */
  readonly baseMs: number;
  readonly maxMs: number;
  readonly maxEntries?: number;
}

interface Entry {
  failures: number;
  lockedUntil: number;
  last: number;
}

export interface LoginThrottle {
  /** ms until attempts for this user from this address are allowed again; 0 = go ahead. */
  wait(user: string, address: string): number;
  failed(user: string, address: string): void;
  succeeded(user: string, address: string): void;
}

export function createLoginThrottle(opts: ThrottleOptions): LoginThrottle {
  const maxEntries = opts.maxEntries ?? 10_000;
  const forgetMs = Math.max(opts.maxMs * 2, 3_600_000);
  const table = new Map<string, Entry>();

  const entry = (key: string, now: number): Entry => {
    let e = table.get(key);
    if (e !== undefined && now - e.last > forgetMs && now >= e.lockedUntil) {
      table.delete(key);
      e = undefined;
    }
    if (e === undefined) {
      while (table.size >= maxEntries) table.delete(table.keys().next().value!);
      e = { failures: 0, lockedUntil: 0, last: now };
    } else table.delete(key);
    // Re-inserted so Map order is least recently used first.
    table.set(key, e);
    return e;
  };
  const fail = (key: string, free: number, now: number): void => {
    const e = entry(key, now);
    e.failures++;
    e.last = now;
    if (e.failures >= free) {
      const lock = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(30, e.failures - free));
      e.lockedUntil = now + lock;
    }
  };
  const keys = (user: string, address: string) => [`u:${user.trim().toLowerCase()}`, `a:${address}`];

  return {
    wait(user, address) {
      const now = opts.clock.now();
      let wait = 0;
      for (const k of keys(user, address)) {
        const e = table.get(k);
        if (e !== undefined) wait = Math.max(wait, e.lockedUntil - now);
      }
      return Math.max(0, wait);
    },
    failed(user, address) {
      const now = opts.clock.now();
      const [u, a] = keys(user, address);
      fail(u!, opts.freeFailures, now);
      fail(a!, opts.freeFailuresPerAddress, now);
    },
    succeeded(user, address) {
      for (const k of keys(user, address)) table.delete(k);
    },
  };
}
