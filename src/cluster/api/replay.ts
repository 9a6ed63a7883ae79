// One use per signed request (issue 15, item 6). A request's proof covers a random nonce (auth.ts),
// and the receiver remembers every nonce it accepted for as long as the request's time is inside
// the acceptance window; after that the time check refuses it anyway. So a captured request is
// worth nothing a second time, inside the window or out of it.
//
// Bounded memory: nonces sit in buckets by the second of their request time, and a bucket is
// dropped whole once that second has left the window; at most MAX_REMEMBERED nonces are held.
// When that many are held the guard refuses ("full", answered 503 with Retry-After) instead of
// forgetting one early: forgetting a nonce still in the window would reopen its replay. Only
// requests whose proof verified are remembered, so only a member holding the secret can fill it,
// and a member's refused request is a failed attempt it retries elsewhere or answers 4xx for.
// No I/O; the caller passes its clock's time.

/** Nonces held at most: 5,000 accepted requests a second for a 20 s window. */
export const MAX_REMEMBERED = 100_000;

export type Admission = "fresh" | "replayed" | "full";

export interface ReplayGuard {
  /**
   * "fresh" (first sight: now remembered), "replayed" (seen before) or "full". `time` is the
   * request's signed time, already checked to be inside the window ending `keepMs` after it.
   */
  admit(nonce: string, time: number, now: number): Admission;
  /** Nonces held (tests, metrics). */
  size(): number;
}

export function createReplayGuard(keepMs: number, maxRemembered = MAX_REMEMBERED): ReplayGuard {
  const buckets = new Map<number, Set<string>>();
  let held = 0;

  const expire = (now: number): void => {
    for (const [second, set] of buckets) {
      // Every time in this second plus the window is past: the time check refuses them now.
      if ((second + 1) * 1000 + keepMs <= now) {
        held -= set.size;
        buckets.delete(second);
      }
    }
  };

  return {
    admit(nonce, time, now) {
      expire(now);
      for (const set of buckets.values()) if (set.has(nonce)) return "replayed";
      if (held >= maxRemembered) return "full";
      const second = Math.floor(time / 1000);
      let set = buckets.get(second);
      if (set === undefined) {
        set = new Set();
        buckets.set(second, set);
      }
      set.add(nonce);
      held++;
      return "fresh";
    },
    size: () => held,
  };
}
