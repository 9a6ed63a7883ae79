// The retry schedule as pure functions of settings, attempt count and time: when to try a
// deferred recipient again, when a message expires, which delay warnings are due. No I/O, no
// clock: callers pass "now".
import type { Settings } from "../config/settings.js";
import type { Random } from "../world/random.js";

export interface RetryPolicy {
  readonly firstRetryMs: number;
  readonly maxRetryMs: number;
  readonly maxLifetimeMs: number;
  /** Ascending, de-duplicated. */
  readonly delayWarningsMs: readonly number[];
}

export function retryPolicy(q: Settings["queue"]): RetryPolicy {
  const warnings = [...new Set(q.delayWarningSeconds)].sort((a, b) => a - b).map((s) => s * 1000);
  return {
    firstRetryMs: q.firstRetrySeconds * 1000,
    maxRetryMs: Math.max(q.maxRetrySeconds, q.firstRetrySeconds) * 1000,
    maxLifetimeMs: q.maxLifetimeSeconds * 1000,
    delayWarningsMs: warnings,
  };
}

/**
 * Delay before the next attempt after `attempts` failed ones (attempts >= 1): first, then doubling,
 * capped. Up to 10% jitter is added so messages deferred together do not retry in lockstep.
 */
export function retryDelayMs(p: RetryPolicy, attempts: number, random: Random): number {
  const doublings = Math.min(Math.max(attempts - 1, 0), 40);
  const base = Math.min(p.firstRetryMs * 2 ** doublings, p.maxRetryMs);
  const spread = Math.floor(base / 10);
  return base + (spread > 0 ? random.int(spread) : 0);
}

export const expiresAt = (p: RetryPolicy, arrival: number): number => arrival + p.maxLifetimeMs;

export const isExpired = (p: RetryPolicy, arrival: number, now: number): boolean =>
  now >= expiresAt(p, arrival);

/** When to try next: the schedule, but never later than expiry (so giving up happens on time). */
export function nextAttemptAt(
  p: RetryPolicy,
  arrival: number,
  attempts: number,
  now: number,
  random: Random,
): number {
  return Math.min(now + retryDelayMs(p, attempts, random), expiresAt(p, arrival));
}

/** How many warning thresholds a message that arrived at `arrival` has crossed by `now`. */
export function warningsCrossed(p: RetryPolicy, arrival: number, now: number): number {
  let n = 0;
  for (const w of p.delayWarningsMs) if (arrival + w <= now) n++;
  return n;
}
