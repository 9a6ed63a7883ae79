// Brute-force throttling of logins, per name and per client address, for every way in: SMTP AUTH,
// POP3, the submission API (scope "mail": one count per account whichever way it is tried) and
// the WebAdmin (scope "admin"). Each key may fail `free` times; every failure after that locks
// the key for base·2^(n−free), at most `maxMs`, during which attempts are refused without
// checking the password (a locked account costs an attacker time, not us scrypt work). A
// success clears the name's count, not the address's: an attacker holding one account cannot
// wipe the count of an address that sprays guesses over many. The counts live in the shared
// state (ThrottleRows: sqlite-throttle.ts, pg-throttle.ts), so a guesser spread over every member
// behind a balancer meets one lock, not one per member. Names are canonical (LoginName), so no
// spelling of a name counts apart. Keys are untrusted: the table is bounded, the least recently
// failed dropped first, and an entry forgotten once idle for `forgetMs` and unlocked. An IPv6
// client is counted by its /64 (one subscriber's prefix, RFC 6177), or changing the low bits
// would give every guess a fresh address.
import { isIPv6 } from "node:net";
import type { LoginName } from "../proto/login-name.js";
import type { Clock } from "../world/clock.js";

/** Read at each use: managed settings may change it while the node runs. */
export interface ThrottlePolicy {
  /** Failures allowed per name before it is locked. */
  readonly freeFailures: number;
  /** Per client address: more, since many users may share one address (NAT). */
  readonly freeFailuresPerAddress: number;
  /** The first lock; each further failure doubles it. */
  readonly baseMs: number;
  readonly maxMs: number;
  /** Counts idle (and unlocked) this long start again from zero. */
  readonly forgetMs: number;
}

export interface ThrottleOptions {
  readonly clock: Clock;
  readonly rows: ThrottleRows;
  /** Keeps the counts of different name spaces (mail accounts, administrators) apart. */
  readonly scope: string;
  readonly policy: () => ThrottlePolicy;
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
  close(): Promise<void>;
}

export interface LoginThrottle {
  /**
   * ms until attempts for this name from this address are allowed again; 0 = go ahead. A null
   * name (one loginName refused) is judged by the address alone.
   */
  wait(name: LoginName | null, address: string): Promise<number>;
  failed(name: LoginName | null, address: string): Promise<void>;
  succeeded(name: LoginName): Promise<void>;
}

/** What an address is counted as: IPv4 as it is (IPv4-mapped IPv6 too), IPv6 by its /64. */
export function addressBucket(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  const bare = address.replace(/%.*$/, "");
  if (!isIPv6(bare)) return address;
  const [head = "", tail] = bare.toLowerCase().split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

// The bound is enforced every this many failures (pruning is a scan; failures are cheap).
const PRUNE_EVERY = 100;

export function createLoginThrottle(opts: ThrottleOptions): LoginThrottle {
  const maxEntries = opts.maxEntries ?? 100_000;
  const nameKey = (name: LoginName): string => `${opts.scope}:u:${name}`;
  const addressKey = (address: string): string => `${opts.scope}:a:${addressBucket(address)}`;
  let failures = 0;

  return {
    async wait(name, address) {
      const now = opts.clock.now();
      const keys = [addressKey(address), ...(name === null ? [] : [nameKey(name)])];
      return Math.max(0, (await opts.rows.lockedUntil(keys)) - now);
    },
    async failed(name, address) {
      const now = opts.clock.now();
      const p = opts.policy();
      const f = { now, baseMs: p.baseMs, maxMs: p.maxMs, forgetBefore: now - p.forgetMs };
      if (name !== null) await opts.rows.fail(nameKey(name), { ...f, free: p.freeFailures });
      await opts.rows.fail(addressKey(address), { ...f, free: p.freeFailuresPerAddress });
      if (++failures % PRUNE_EVERY === 0) await opts.rows.prune(now - p.forgetMs, now, maxEntries);
    },
    succeeded: (name) => opts.rows.clear([nameKey(name)]),
  };
}

/** The lock a key gets at its n-th failure (0: none yet). */
export const lockMs = (n: number, f: { free: number; baseMs: number; maxMs: number }): number =>
  n < f.free ? 0 : Math.min(f.maxMs, f.baseMs * 2 ** Math.min(30, n - f.free));
