// The shadow directory on the peer: copies of other members' queue files, kept until their
// primary says they are finished, or promoted into this node's queue when the primary is gone
// (takeover.ts). It is not a queue: nothing here is ever delivered from it.
//
// Layout: <dir>/<origin node>/<seq>.seg, append-only segments of shadow records (records.ts):
// each batch a primary sends is appended to its current segment as received and fdatasynced
// once (group commit: a batch carries every message the primary accepted while the previous one
// was on its way), so the cost per message is a share of one fsync. A new segment's directory
// entry is fsynced before the first batch in it is acknowledged. Memory holds an index (id →
// where its queue file is, its latest recipient state); a restart rebuilds it by reading the
// segments in order, ignoring a torn tail (a batch never acknowledged).
//
// A segment is deleted once nothing in it is live and every older one is gone: a drop record in
// a newer segment then never outlives the copy it drops. Live copies in the oldest segment are
// copied forward (appended again) once a primary has many segments, so one message retried for
// days does not pin the log behind it. Bounds (messages, bytes on disk) refuse new copies, never
// drops.
import { mkdir, open, readdir, readFile, rm, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Log } from "../../log/logger.js";
import { DirSync } from "../../queue/dir-sync.js";
import { isWireNodeId } from "../secret.js";
import { byteLength, decodeRecords, encodeRecord, HEADER_SIZE, type DecodedRecord } from "./records.js";

const ROTATE_BYTES = 16 * 1024 * 1024;
/** More segments than this for one primary: the oldest one's live copies are moved forward. */
const COMPACT_SEGMENTS = 8;

export interface ShadowStoreOptions {
  readonly dir: string;
  /** Live copies held, all primaries together; past it new copies are refused. */
  readonly maxMessages: number;
  /** Bytes of segments on disk, all primaries together. */
  readonly maxBytes: number;
  /** Tag QUEUE. */
  readonly log: Log;
  /** A segment past this size is closed and a new one started (tests make it small). */
  readonly rotateBytes?: number;
}

export interface HeldShadow {
  readonly id: string;
  /** The queue file as the primary had it. */
  readonly file: Buffer;
  /** Its latest recipient state, when the primary sent one. */
  readonly state: Buffer | null;
}

/** why: "full" when a bound refused it, else what is wrong with the batch. */
export type ApplyResult =
  { readonly ok: true; readonly records: number } | { readonly ok: false; readonly why: string };

export interface ShadowStore {
  open(): Promise<void>;
  /** Append one batch from `origin`; resolves once it is durable (or why it was refused). */
  apply(origin: string, batch: Buffer): Promise<ApplyResult>;
  /** Primaries this node holds live copies for. */
  origins(): string[];
  /** Ids held for a primary. */
  ids(origin: string): string[];
  /** The live copies of a primary, read from disk. */
  read(origin: string): Promise<HeldShadow[]>;
  /** Forget every copy of a primary (promoted, or told to). */
  discard(origin: string): Promise<void>;
  count(): number;
  bytes(): number;
  close(): Promise<void>;
}

interface Segment {
  readonly seq: number;
  bytes: number;
  live: number;
}

interface Held {
  readonly seq: number;
  /** Offset of the queue file in the segment, and its length. */
  readonly offset: number;
  readonly length: number;
  state: Buffer | null;
}

interface Origin {
  readonly dir: string;
  readonly sync: DirSync;
  readonly segments: Segment[];
  readonly index: Map<string, Held>;
  active: { seq: number; fh: FileHandle } | null;
  nextSeq: number;
  /** Appends to one primary's log run one at a time, in arrival order. */
  chain: Promise<unknown>;
}

const SEG = /^(\d{12})\.seg$/;
const segName = (seq: number): string => `${String(seq).padStart(12, "0")}.seg`;

export function createShadowStore(o: ShadowStoreOptions): ShadowStore {
  const origins = new Map<string, Origin>();
  const rootSync = new DirSync(o.dir);
  const rotateBytes = o.rotateBytes ?? ROTATE_BYTES;
  let count = 0;
  let bytes = 0;

  const originOf = async (id: string): Promise<Origin> => {
    let g = origins.get(id);
    if (g !== undefined) return g;
    const dir = join(o.dir, id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await rootSync.sync();
    // Created while we waited: use that one.
    g = origins.get(id);
    if (g !== undefined) return g;
    g = {
      dir,
      sync: new DirSync(dir),
      segments: [],
      index: new Map(),
      active: null,
      nextSeq: 1,
      chain: Promise.resolve(),
    };
    origins.set(id, g);
    return g;
  };

  const segmentOf = (g: Origin, seq: number): Segment | undefined => g.segments.find((s) => s.seq === seq);

  const forget = (g: Origin, id: string): void => {
    const h = g.index.get(id);
    if (h === undefined) return;
    g.index.delete(id);
    count--;
    const s = segmentOf(g, h.seq);
    if (s !== undefined) s.live--;
  };

  /** Apply decoded records found at `base` in segment `seq` to the index. */
  const index = (g: Origin, seq: number, base: number, records: readonly DecodedRecord[]): void => {
    for (const r of records) {
      switch (r.kind) {
        case "add": {
          forget(g, r.id);
          g.index.set(r.id, {
            seq,
            offset: base + r.at + HEADER_SIZE + r.id.length,
            length: r.data.length,
            state: null,
          });
          count++;
          const s = segmentOf(g, seq);
          if (s !== undefined) s.live++;
          break;
        }
        case "state": {
          const h = g.index.get(r.id);
          if (h !== undefined) h.state = Buffer.from(r.data);
          break;
        }
        case "drop":
          forget(g, r.id);
          break;
        case "reset":
          for (const id of [...g.index.keys()]) forget(g, id);
          break;
      }
    }
  };

  const append = async (
    g: Origin,
    data: Buffer | readonly Buffer[],
  ): Promise<{ seq: number; base: number }> => {
    const bufs = Buffer.isBuffer(data) ? [data] : data;
    const len = byteLength(bufs);
    let fresh = false;
    const last = g.segments.at(-1);
    if (g.active === null || last === undefined || last.bytes >= rotateBytes) {
      await g.active?.fh.close();
      const seq = g.nextSeq++;
      g.active = { seq, fh: await open(join(g.dir, segName(seq)), "a", 0o600) };
      g.segments.push({ seq, bytes: 0, live: 0 });
      fresh = true;
    }
    const seg = g.segments.at(-1)!;
    const base = seg.bytes;
    await g.active.fh.writev(bufs as Buffer[]);
    await g.active.fh.datasync();
    if (fresh) await g.sync.sync();
    seg.bytes += len;
    bytes += len;
    return { seq: seg.seq, base };
  };

  /** Delete dead segments from the oldest on; copy the oldest one's live copies forward when there are many. */
  const tidy = async (g: Origin): Promise<void> => {
    if (g.segments.length > COMPACT_SEGMENTS) {
      const oldest = g.segments[0]!;
      if (oldest.live > 0 && oldest.seq !== g.active?.seq) {
        const moving = [...g.index.entries()].filter(([, h]) => h.seq === oldest.seq);
        const file = await readFile(join(g.dir, segName(oldest.seq)));
        const out: Buffer[] = [];
        for (const [id, h] of moving) {
          out.push(
            ...encodeRecord({ kind: "add", id, data: [file.subarray(h.offset, h.offset + h.length)] }),
          );
          if (h.state !== null) out.push(...encodeRecord({ kind: "state", id, data: [h.state] }));
        }
        const at = await append(g, out);
        const decoded = decodeRecords(Buffer.concat(out));
        if (typeof decoded !== "string") index(g, at.seq, at.base, decoded.records);
      }
    }
    while (g.segments.length > 0) {
      const s = g.segments[0]!;
      if (s.live > 0 || s.seq === g.active?.seq) break;
      g.segments.shift();
      bytes -= s.bytes;
      await unlink(join(g.dir, segName(s.seq))).catch(() => undefined);
    }
  };

  const load = async (name: string): Promise<void> => {
    if (!isWireNodeId(name)) return;
    const g = await originOf(name);
    const seqs = (await readdir(g.dir))
      .map((f) => SEG.exec(f)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const seq of seqs) {
      const buf = await readFile(join(g.dir, segName(seq)));
      g.segments.push({ seq, bytes: buf.length, live: 0 });
      bytes += buf.length;
      g.nextSeq = seq + 1;
      const decoded = decodeRecords(buf);
      if (typeof decoded === "string") {
        o.log.failure("shadow segment unreadable, its copies ignored", {
          origin: name,
          seq,
          reason: decoded,
        });
        continue;
      }
      if (decoded.torn > 0)
        o.log.problem("shadow segment ends in a torn batch", { origin: name, seq, bytes: decoded.torn });
      index(g, seq, 0, decoded.records);
    }
    await tidy(g);
  };

  return {
    async open() {
      await mkdir(o.dir, { recursive: true, mode: 0o700 });
      for (const name of await readdir(o.dir)) await load(name);
      o.log.major("shadow copies loaded", { origins: origins.size, messages: count, bytes });
    },

    async apply(origin, batch) {
      const decoded = decodeRecords(batch);
      if (typeof decoded === "string") return { ok: false, why: decoded };
      if (decoded.torn > 0) return { ok: false, why: "batch ends inside a record" };
      const adds = decoded.records.filter((r) => r.kind === "add").length;
      if (adds > 0 && (count + adds > o.maxMessages || bytes + batch.length > o.maxBytes))
        return { ok: false, why: "full" };
      const g = await originOf(origin);
      const run = g.chain.then(async () => {
        const at = await append(g, batch);
        index(g, at.seq, at.base, decoded.records);
        await tidy(g);
      });
      g.chain = run.catch(() => undefined);
      await run;
      return { ok: true, records: decoded.records.length };
    },

    origins: () => [...origins.entries()].filter(([, g]) => g.index.size > 0).map(([id]) => id),

    ids: (origin) => [...(origins.get(origin)?.index.keys() ?? [])],

    async read(origin) {
      const g = origins.get(origin);
      if (g === undefined) return [];
      await g.chain;
      const files = new Map<number, Buffer>();
      const out: HeldShadow[] = [];
      for (const [id, h] of g.index) {
        let seg = files.get(h.seq);
        if (seg === undefined) {
          seg = await readFile(join(g.dir, segName(h.seq)));
          files.set(h.seq, seg);
        }
        out.push({ id, file: seg.subarray(h.offset, h.offset + h.length), state: h.state });
      }
      return out;
    },

    async discard(origin) {
      const g = origins.get(origin);
      if (g === undefined) return;
      await g.chain;
      origins.delete(origin);
      count -= g.index.size;
      for (const s of g.segments) bytes -= s.bytes;
      await g.active?.fh.close();
      await g.sync.close();
      await rm(g.dir, { recursive: true, force: true });
    },

    count: () => count,
    bytes: () => bytes,

    async close() {
      for (const g of origins.values()) {
        await g.chain;
        await g.active?.fh.close();
        g.active = null;
        await g.sync.close();
      }
      await rootSync.close();
    },
  };
}
