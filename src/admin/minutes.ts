// Per-minute traffic for the WebAdmin charts: messages in (accepted into the queue), messages
// out (recipients delivered or given up on), delivery latency (mean per minute) and the queue
// size (largest seen in the minute), for the last `minutes` minutes. Fed by the metrics calls,
// so it costs a few additions per message; minutes with no traffic are filled in on read.
import type { Clock } from "../world/clock.js";

export interface MinutePoint {
  /** Start of the minute, ms epoch. */
  readonly at: number;
  readonly in: number;
  readonly out: number;
  readonly deferred: number;
  /** Mean delivery delay of the minute's deliveries, seconds; null when none. */
  readonly latency: number | null;
  readonly queue: number | null;
}

export interface MinuteSeries {
  received(): void;
  delivered(delayMs: number): void;
  bounced(): void;
  deferred(): void;
  queueSize(n: number): void;
  points(): MinutePoint[];
}

interface Bucket {
  at: number;
  in: number;
  out: number;
  deferred: number;
  delaySum: number;
  delayCount: number;
  queue: number | null;
}

const MINUTE = 60_000;

export function createMinuteSeries(opts: {
  clock: Clock;
  minutes: number;
  queueSize?: () => number;
}): MinuteSeries {
  const buckets: Bucket[] = [];
  const current = (): Bucket => {
    const at = Math.floor(opts.clock.now() / MINUTE) * MINUTE;
    let b = buckets[buckets.length - 1];
    if (b === undefined || b.at !== at) {
      b = { at, in: 0, out: 0, deferred: 0, delaySum: 0, delayCount: 0, queue: null };
      buckets.push(b);
      while (buckets.length > opts.minutes) buckets.shift();
    }
    return b;
  };
  const peak = (b: Bucket, n: number): void => {
    b.queue = Math.max(b.queue ?? 0, n);
  };
  const sampleQueue = (b: Bucket): void => {
    if (opts.queueSize !== undefined) peak(b, opts.queueSize());
  };
  /** Counts an event into the current minute, with the queue's size then. */
  const count = (add: (b: Bucket) => void): void => {
    const b = current();
    add(b);
    sampleQueue(b);
  };
  return {
    received: () => count((b) => void b.in++),
    delivered: (delayMs) =>
      count((b) => {
        b.out++;
        b.delaySum += Math.max(0, delayMs) / 1000;
        b.delayCount++;
      }),
    bounced: () => void current().out++,
    deferred: () => count((b) => void b.deferred++),
    queueSize: (n) => peak(current(), n),
    points() {
      sampleQueue(current());
      const last = buckets[buckets.length - 1]!.at;
      const byAt = new Map(buckets.map((b) => [b.at, b]));
      const out: MinutePoint[] = [];
      for (let at = last - (opts.minutes - 1) * MINUTE; at <= last; at += MINUTE) {
        const b = byAt.get(at);
        out.push({
          at,
          in: b?.in ?? 0,
          out: b?.out ?? 0,
          deferred: b?.deferred ?? 0,
          latency: b === undefined || b.delayCount === 0 ? null : b.delaySum / b.delayCount,
          queue: b?.queue ?? null,
        });
      }
      return out;
    },
  };
}
