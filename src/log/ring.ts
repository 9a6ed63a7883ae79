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
  const wrap = (inner: Log): Log => {
    const at =
      (level: Level, write: (text: string, fields?: Fields) => void) =>
      (text: string, fields: Fields = {}): void => {
        write(text, fields);
        if (inner.enabled(level))
          ring.push({
            at: clock.now(),
            level,
            tag: inner.tag,
            session: inner.session,
            context: inner.context,
            text,
            fields,
          });
      };
    return {
      tag: inner.tag,
      session: inner.session,
      context: inner.context,
      enabled: (level) => inner.enabled(level),
      crash: at(0, (t, f) => inner.crash(t, f)),
      failure: at(1, (t, f) => inner.failure(t, f)),
      major: at(2, (t, f) => inner.major(t, f)),
      problem: at(3, (t, f) => inner.problem(t, f)),
      low: at(4, (t, f) => inner.low(t, f)),
      info: at(5, (t, f) => inner.info(t, f)),
      with: (s, c) => wrap(inner.with(s, c)),
    };
  };
  return {
    for: (tag, session, context) => wrap(sink.for(tag, session, context)),
    level: (tag) => sink.level(tag),
    setLevel: (tag, level) => sink.setLevel(tag, level),
    close: () => sink.close(),
  };
}
