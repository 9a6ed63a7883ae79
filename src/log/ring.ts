// An in-memory ring of the most recent log records, for the WebAdmin log viewer. A node tees
// its LogSink into it (teeLogSink): every record the sink's levels let through is also kept
// here, formatted as the file has it, up to `capacity` records (the oldest dropped first).
// Records carry untrusted field values; the formatted line has them escaped (format.ts).
import type { Clock } from "../world/clock.js";
import { formatRecord } from "./format.js";
import { TAGS, type Fields, type Level, type Log, type LogSink, type Tag } from "./logger.js";

export interface RingRecord {
  /** Grows by one per record: a reader asks for records after the last seq it saw. */
  readonly seq: number;
  readonly at: number;
  readonly level: Level;
  readonly tag: Tag;
  readonly line: string;
}

export interface RingQuery {
  readonly after?: number;
  readonly tags?: readonly Tag[];
  /** Records at this level or more important (lower digit). */
  readonly maxLevel?: Level;
  /** Text every returned line contains (case-insensitive). */
  readonly contains?: string;
  readonly limit?: number;
}

export interface LogRing {
  push(r: {
    at: number;
    level: Level;
    tag: Tag;
    session: number;
    context: string;
    text: string;
    fields: Fields;
  }): void;
  /** Matching records in order, the newest `limit` of them; and the last seq written. */
  query(q: RingQuery): { records: RingRecord[]; last: number };
}

export function createLogRing(capacity: number): LogRing {
  const buf: (RingRecord | undefined)[] = new Array<RingRecord | undefined>(capacity);
  let seq = 0;
  return {
    push(r) {
      seq++;
      buf[seq % capacity] = { seq, at: r.at, level: r.level, tag: r.tag, line: formatRecord(r) };
    },
    query(q) {
      const limit = Math.max(1, Math.min(q.limit ?? 200, capacity));
      const from = Math.max(q.after ?? 0, seq - capacity) + 1;
      const needle = q.contains?.toLowerCase();
      const out: RingRecord[] = [];
      // Newest first, so `limit` keeps the most recent; reversed at the end.
      for (let s = seq; s >= from && out.length < limit; s--) {
        const r = buf[s % capacity];
        if (r === undefined || r.seq !== s) continue;
        if (q.tags !== undefined && q.tags.length > 0 && !q.tags.includes(r.tag)) continue;
        if (q.maxLevel !== undefined && r.level > q.maxLevel) continue;
        if (needle !== undefined && needle !== "" && !r.line.toLowerCase().includes(needle)) continue;
        out.push(r);
      }
      return { records: out.reverse(), last: seq };
    },
  };
}

export const isTag = (s: string): s is Tag => (TAGS as readonly string[]).includes(s);

/** A sink that writes to `sink` and keeps what it writes in `ring` (same levels, same order). */
export function teeLogSink(sink: LogSink, ring: LogRing, clock: Clock): LogSink {
  const wrap = (inner: Log): Log => new TeeLog(inner, ring, clock);
  return {
    for: (tag, session, context) => wrap(sink.for(tag, session, context)),
    level: (tag) => sink.level(tag),
    setLevel: (tag, level) => sink.setLevel(tag, level),
    close: () => sink.close(),
  };
}

/** A log that writes through `inner` and keeps each record it writes in the ring (methods on the prototype: one is made per session). */
class TeeLog implements Log {
  readonly tag: Tag;
  readonly session: number;
  readonly context: string;

  constructor(
    private readonly inner: Log,
    private readonly ring: LogRing,
    private readonly clock: Clock,
  ) {
    this.tag = inner.tag;
    this.session = inner.session;
    this.context = inner.context;
  }

  private keep(level: Level, text: string, fields: Fields): void {
    if (this.inner.enabled(level))
      this.ring.push({
        at: this.clock.now(),
        level,
        tag: this.tag,
        session: this.session,
        context: this.context,
        text,
        fields,
      });
  }

  enabled(level: Level): boolean {
    return this.inner.enabled(level);
  }
  crash(text: string, fields: Fields = {}): void {
    this.inner.crash(text, fields);
    this.keep(0, text, fields);
  }
  failure(text: string, fields: Fields = {}): void {
    this.inner.failure(text, fields);
    this.keep(1, text, fields);
  }
  major(text: string, fields: Fields = {}): void {
    this.inner.major(text, fields);
    this.keep(2, text, fields);
  }
  problem(text: string, fields: Fields = {}): void {
    this.inner.problem(text, fields);
    this.keep(3, text, fields);
  }
  low(text: string, fields: Fields = {}): void {
    this.inner.low(text, fields);
    this.keep(4, text, fields);
  }
  info(text: string, fields: Fields = {}): void {
    this.inner.info(text, fields);
    this.keep(5, text, fields);
  }
  with(session: number, context: string): Log {
    return new TeeLog(this.inner.with(session, context), this.ring, this.clock);
  }
}
