// The durable queue on disk. One file per message in active/ (queue-file.ts: body, envelope,
// trailer); per-recipient state beside it in state/<id>.json, replaced atomically. A message
// counts as queued only once its file is fdatasynced, renamed into active/ (the ready mark, set
// last) and active/ itself is fsynced; directory fsyncs are shared by concurrent commits (group
// commit, dir-sync.ts). open() discards unfinished files in tmp/ and moves unreadable files to
// corrupt/ with a log line: nothing is deleted silently. verify() checks a message's bytes on disk
// against the CRC-32 stored at enqueue before they are delivered; a message that fails is moved
// to corrupt/ (its state file beside it) and leaves the spool.
//
// Layout: <dir>/tmp/<id> (being received), <dir>/active/<id>, <dir>/state/<id>.json, <dir>/corrupt/.
import { createReadStream } from "node:fs";
import { crc32 } from "node:zlib";
import { mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { Log } from "../log/logger.js";
import type { Envelope, MessageState, RecipientState } from "./envelope.js";
import type { Spool, SpoolWriter, StoredMessage } from "./types.js";
import { DirSync } from "./dir-sync.js";
import { QUEUE_ID } from "./ids.js";
import { decodeTrailer, parseEnvelope, TRAILER_SIZE } from "./queue-file.js";
import { FileSpoolWriter } from "./spool-writer.js";
import { openFd, unlinkPath, writeSynced } from "../store/fs-calls.js";
import { freshStates, parseState } from "./state-file.js";

export interface SpoolStats {
  /** Directory fsyncs of active/ and state/ actually performed. */
  readonly dirSyncs: number;
  /** Directory fsyncs asked for (commits and state saves). */
  readonly dirSyncRequests: number;
}

export type FileSpool = Spool & { stats(): SpoolStats };

/** Files loaded at once by open(): enough to keep the disk busy, few enough to bound fds. */
const LOAD_PARALLEL = 32;

interface SaveSlot {
  running: boolean;
  next: { data: string; waiters: { resolve(): void; reject(e: unknown): void }[] } | null;
}

const quiet = (p: Promise<unknown>): Promise<void> =>
  p.then(
    () => undefined,
    () => undefined,
  );

/** Memory for recently received message bodies (see `recent` below). */
const RECENT_BUDGET = 32 * 1024 * 1024;

export function createSpool(dir: string, log: Log): FileSpool {
  const tmpDir = join(dir, "tmp");
  const activeDir = join(dir, "active");
  const stateDir = join(dir, "state");
  const corruptDir = join(dir, "corrupt");
  const activeSync = new DirSync(activeDir);
  const stateSync = new DirSync(stateDir);
  /** Body length of every committed message: what body() may read. */
  const bodies = new Map<string, number>();
  /** Body CRC-32 of every committed message whose file stores one (files older than it do not). */
  const checks = new Map<string, number>();
  const saves = new Map<string, SaveSlot>();
  // Messages just received (up to 1 MB, as the chunks received), kept in memory for their first
  // delivery attempt: most are delivered at once, and reading them back from disk cost an open,
  // reads and a close each (measured in docs/BENCHMARKS.md). Bounded; a message that has to
  // wait is dropped from it.
  const recent = new Map<string, { chunks: readonly Buffer[]; bytes: number }>();
  let recentBytes = 0;
  const forget = (id: string): void => {
    const b = recent.get(id);
    if (b === undefined) return;
    recent.delete(id);
    recentBytes -= b.bytes;
  };
  /** Messages with a state file: most are delivered at once and never get one (no unlink needed). */
  const withState = new Set<string>();

  const checkId = (id: string): void => {
    if (!QUEUE_ID.test(id)) throw new Error(`invalid queue id ${JSON.stringify(id)}`);
  };

  const quarantine = async (name: string, from: string, reason: string): Promise<void> => {
    log.failure("unreadable queue file moved aside", { id: name, reason, to: join(corruptDir, name) });
    await rename(from, join(corruptDir, name)).catch((e: unknown) =>
      log.failure("cannot move unreadable queue file", { id: name, error: String(e) }),
    );
  };

  const loadEnvelope = async (
    id: string,
  ): Promise<{ envelope: Envelope; bodyCrc: number | null } | string> => {
    const h = await open(join(activeDir, id), "r");
    try {
      const { size } = await h.stat();
      if (size < TRAILER_SIZE) return "file shorter than the trailer";
      const trailer = Buffer.alloc(TRAILER_SIZE);
      await h.read(trailer, 0, TRAILER_SIZE, size - TRAILER_SIZE);
      const t = decodeTrailer(trailer, size);
      if (typeof t === "string") return t;
      const json = Buffer.alloc(t.length);
      const { bytesRead } = await h.read(json, 0, t.length, t.offset);
      if (bytesRead !== t.length) return "short read of envelope";
      const envelope = parseEnvelope(json, t, id);
      return typeof envelope === "string" ? envelope : { envelope, bodyCrc: t.bodyCrc };
    } finally {
      await h.close();
    }
  };

  const loadState = async (envelope: Envelope): Promise<Pick<StoredMessage, "state" | "recipients">> => {
    const path = join(stateDir, `${envelope.id}.json`);
    let raw: Buffer;
    try {
      raw = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT")
        return { state: "active", recipients: freshStates(envelope) };
      throw e;
    }
    const parsed = parseState(raw, envelope.recipients.length);
    if (typeof parsed !== "string") {
      withState.add(envelope.id);
      return parsed;
    }
    // Losing the state means retrying recipients that may already have their copy: a duplicate is
    // better than a loss, and the operator gets the file to look at.
    await quarantine(`${envelope.id}.state.json`, path, parsed);
    return { state: "active", recipients: freshStates(envelope) };
  };

  const loadOne = async (name: string): Promise<StoredMessage | null> => {
    const path = join(activeDir, name);
    if (!QUEUE_ID.test(name)) {
      await quarantine(name, path, "file name is not a queue id");
      return null;
    }
    let loaded: Awaited<ReturnType<typeof loadEnvelope>>;
    try {
      loaded = await loadEnvelope(name);
    } catch (e) {
      loaded = `read failed: ${String(e)}`;
    }
    if (typeof loaded === "string") {
      await quarantine(name, path, loaded);
      return null;
    }
    const env = loaded.envelope;
    const st = await loadState(env);
    bodies.set(env.id, env.size);
    if (loaded.bodyCrc !== null) checks.set(env.id, loaded.bodyCrc);
    return { envelope: env, state: st.state, recipients: st.recipients };
  };

  const writeState = async (id: string, data: string): Promise<void> => {
    const tmp = join(stateDir, `${id}.json.tmp`);
    const final = join(stateDir, `${id}.json`);
    await writeSynced(tmp, data, "data");
    if (!bodies.has(id)) {
      await quiet(unlink(tmp));
      return;
    }
    await rename(tmp, final);
    withState.add(id);
    // remove() may have run while we wrote: do not leave an orphan behind.
    if (!bodies.has(id)) {
      withState.delete(id);
      await quiet(unlink(final));
      return;
    }
    await stateSync.sync();
  };

  const pumpSave = (id: string): void => {
    const slot = saves.get(id);
    if (slot === undefined || slot.running) return;
    const job = slot.next;
    if (job === null) {
      saves.delete(id);
      return;
    }
    slot.next = null;
    slot.running = true;
    void writeState(id, job.data)
      .then(
        () => job.waiters.forEach((w) => w.resolve()),
        (e: unknown) => job.waiters.forEach((w) => w.reject(e)),
      )
      .finally(() => {
        slot.running = false;
        pumpSave(id);
      });
  };

  return {
    async open() {
      // Queue files hold whole messages: the spool is the node user's alone (files are 0600 too).
      for (const d of [dir, tmpDir, activeDir, stateDir, corruptDir])
        await mkdir(d, { recursive: true, mode: 0o700 });
      // An unfinished receive was never acknowledged with 250: the client still has the message.
      const tmps = await readdir(tmpDir);
      for (const t of tmps) await quiet(unlink(join(tmpDir, t)));
      if (tmps.length > 0) log.major("discarded unfinished queue files", { count: tmps.length });

      const names = (await readdir(activeDir)).sort();
      const out: StoredMessage[] = [];
      for (let i = 0; i < names.length; i += LOAD_PARALLEL) {
        const batch = await Promise.all(names.slice(i, i + LOAD_PARALLEL).map(loadOne));
        for (const m of batch) if (m !== null) out.push(m);
      }
      for (const s of await readdir(stateDir)) {
        const id = s.endsWith(".json") ? s.slice(0, -5) : null;
        // Leftovers of a save or a removal cut short by a crash.
        if (id === null || !bodies.has(id)) await quiet(unlink(join(stateDir, s)));
      }
      log.major("queue loaded", { messages: out.length });
      return out;
    },

    async begin(id): Promise<SpoolWriter> {
      checkId(id);
      const tmp = join(tmpDir, id);
      const fd = await openFd(tmp, "wx", 0o600);
      return new FileSpoolWriter(
        fd,
        { tmp, active: join(activeDir, id) },
        activeSync,
        (len, inMemory, crc) => {
          bodies.set(id, len);
          checks.set(id, crc);
          if (inMemory !== null && recentBytes + len <= RECENT_BUDGET) {
            recent.set(id, { chunks: inMemory, bytes: len });
            recentBytes += len;
          }
        },
      );
    },

    body(id) {
      const len = bodies.get(id);
      if (len === undefined) {
        // The error is emitted on a later tick, after the caller has attached its listeners.
        const r = new Readable({ read: () => undefined });
        r.destroy(new Error(`no queued message ${id}`));
        return r;
      }
      if (len === 0) return Readable.from([]);
      const mem = recent.get(id);
      if (mem !== undefined) return Readable.from(mem.chunks, { objectMode: false });
      return createReadStream(join(activeDir, id), { start: 0, end: len - 1, highWaterMark: 256 * 1024 });
    },

    async verify(id) {
      const len = bodies.get(id);
      const want = checks.get(id);
      // Unknown here, or a file from before checksums: nothing to compare. In memory: the very
      // chunks received, not read back.
      if (len === undefined || want === undefined || recent.has(id)) return null;
      let got = 0;
      try {
        if (len > 0) {
          const stream = createReadStream(join(activeDir, id), {
            start: 0,
            end: len - 1,
            highWaterMark: 256 * 1024,
          });
          for await (const chunk of stream) got = crc32(chunk as Buffer, got);
        }
      } catch {
        // Unreadable (or gone): the delivery's own read fails and defers it; not a checksum verdict.
        return null;
      }
      if (got === want || !bodies.has(id)) return null;
      const reason = "message bytes do not match the checksum stored at enqueue";
      bodies.delete(id);
      checks.delete(id);
      log.problem("corrupted queue file quarantined", {
        id,
        reason,
        expected: want.toString(16),
        actual: got.toString(16),
        to: join(corruptDir, id),
      });
      await rename(join(activeDir, id), join(corruptDir, id)).catch((e: unknown) =>
        log.failure("cannot move corrupted queue file", { id, error: String(e) }),
      );
      // The recipient state goes with it: it says who already has the message.
      if (withState.delete(id))
        await quiet(rename(join(stateDir, `${id}.json`), join(corruptDir, `${id}.state.json`)));
      return reason;
    },

    saveState(id, state: MessageState, recipients: readonly RecipientState[]) {
      if (!bodies.has(id)) return Promise.resolve();
      forget(id);
      // Serialise now: the caller keeps mutating its objects after this call.
      const data = JSON.stringify({ state, recipients });
      return new Promise<void>((resolve, reject) => {
        let slot = saves.get(id);
        if (slot === undefined) {
          slot = { running: false, next: null };
          saves.set(id, slot);
        }
        // Saves queued behind a running one collapse into one write of the newest state.
        if (slot.next === null) slot.next = { data, waiters: [] };
        else slot.next.data = data;
        slot.next.waiters.push({ resolve, reject });
        pumpSave(id);
      });
    },

    async remove(id) {
      checkId(id);
      bodies.delete(id);
      checks.delete(id);
      forget(id);
      // Message file first: a crash between the two leaves an orphan state file (cleaned at open),
      // never a message whose state says nothing was delivered. No directory fsync: if a crash
      // undoes the unlink the message is delivered twice, which at-least-once delivery allows.
      await unlinkPath(join(activeDir, id)).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      });
      if (withState.delete(id)) await quiet(unlinkPath(join(stateDir, `${id}.json`)));
    },

    async close() {
      await Promise.all([activeSync.close(), stateSync.close()]);
    },

    stats: () => ({
      dirSyncs: activeSync.syncs + stateSync.syncs,
      dirSyncRequests: activeSync.requests + stateSync.requests,
    }),
  };
}
