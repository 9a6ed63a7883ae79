// Throttling of failed POP3 logins: failures are counted per client address and per account
// name over a window; past the limit, logins from that address or for that account are refused
// without looking at the password until the window has passed. Counting by account as well
// stops guessing spread over many addresses. Bounded: at most MAX_KEYS keys are remembered,
// the oldest dropped first. Time comes from the injected clock.
import type { Clock } from "../../world/clock.js";

const MAX_KEYS = 100_000;

export interface AuthThrottle {
  /** True when this address or account may not try now. */
  blocked(ip: string, user: string): boolean;
  failed(ip: string, user: string): void;
  /** A success clears the account's failures (not the address's). */
  succeeded(user: string): void;
}

export function createAuthThrottle(o: { clock: Clock; maxFailures: number; windowMs: number }): AuthThrottle {
  /** key → failure times (ms), oldest first; Map order is insertion order for eviction. */
  const failures = new Map<string, number[]>();
  const recent = (key: string): number[] => {
    const list = failures.get(key);
    if (list === undefined) return [];
    const since = o.clock.now() - o.windowMs;
    const kept = list.filter((t) => t > since);
    if (kept.length === 0) failures.delete(key);
    else if (kept.length !== list.length) failures.set(key, kept);
    return kept;
  };
  const add = (key: string): void => {
    const list = recent(key);
    list.push(o.clock.now());
    failures.delete(key);
    failures.set(key, list.slice(-o.maxFailures));
    while (failures.size > MAX_KEYS) {
      const oldest = failures.keys().next().value;
      if (oldest === undefined) break;
      failures.delete(oldest);
    }
  };
  const ipKey = (ip: string): string => `ip:${ip}`;
  const userKey = (user: string): string => `user:${user.toLowerCase()}`;
  return {
    blocked: (ip, user) =>
      recent(ipKey(ip)).length >= o.maxFailures ||
      (user !== "" && recent(userKey(user)).length >= o.maxFailures),
    failed(ip, user) {
      add(ipKey(ip));
      if (user !== "") add(userKey(user));
    },
    succeeded(user) {
      failures.delete(userKey(user));
    },
  };
}
