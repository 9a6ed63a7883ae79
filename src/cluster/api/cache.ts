// A bounded cache of answers with a lifetime per entry, on an injected clock: the frontend's
// memory of what backends said. Least recently used entries go first when full; an expired
// entry is never returned. Keys are the caller's business (they must hold no secrets).
import type { Clock } from "../../world/clock.js";

export class AnswerCache<V> {
  // Map iteration order is insertion order: re-inserting on use keeps the oldest use first.
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The live entry for key, as a box so that cached null/undefined answers are hits too. */
  get(key: string): { value: V } | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    this.entries.delete(key);
    if (this.clock.now() >= e.expires) return undefined;
    this.entries.set(key, e);
    return { value: e.value };
  }

  /** Keep value for ttlMs; a ttl of 0 (or a cache of 0 entries) keeps nothing. */
  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    if (ttlMs <= 0 || this.maxEntries <= 0) return;
    this.entries.set(key, { value, expires: this.clock.now() + ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
