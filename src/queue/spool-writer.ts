// Writes one incoming message into the spool: body chunks go to a temporary file through a
// coalescing buffer (few large writes, no per-chunk fsync); commit appends the envelope and
// trailer, fdatasyncs, renames into active/ (the ready mark, set last) and waits for the group
// directory fsync. Calls are serialised, so callers may fire writes without awaiting each one.
// The body's CRC-32 is taken as the chunks come (in call order, the order they are written) and
// stored in the trailer, so a later read can tell the bytes are the ones received.
import { closeFd, fdatasyncFd, renamePath, unlinkPath, writevAll } from "../store/fs-calls.js";
import type { Envelope } from "./envelope.js";
import type { SpoolWriter } from "./types.js";
import type { DirSync } from "./dir-sync.js";
import { crc32 } from "node:zlib";
import { encodeTail } from "./queue-file.js";

/** Bodies up to this size are kept (as the chunks received, not copied) for the first delivery. */
const KEEP_BYTES = 1024 * 1024;
/** Chunks smaller than this are copied into the coalescing buffer; larger ones go straight out. */
const COALESCE_BYTES = 64 * 1024;
const DIRECT_BYTES = 16 * 1024;

type Phase = "writing" | "closed" | "renamed" | "committed" | "aborted";

export interface WriterPaths {
  readonly tmp: string;
  readonly active: string;
}

export class FileSpoolWriter implements SpoolWriter {
  private buf: Buffer | null = null;
  private used = 0;
  private written = 0;
  /** Serialised operations queued or running; the copy-only fast path needs none. */
  private pending = 0;
  private tail: Promise<void> = Promise.resolve();
  private failed: Error | null = null;
  private phase: Phase = "writing";
  /** References to every chunk written while the body stays within KEEP_BYTES, else null. */
  private kept: Buffer[] | null = [];
  private keptBytes = 0;

  constructor(
    /** The open temporary file; closed by commit or abort. */
    private readonly fd: number,
    private readonly paths: WriterPaths,
    private readonly activeSync: DirSync,
    /** inMemory: the body's chunks when it is at most KEEP_BYTES long, else null. */
    private readonly onCommitted: (
      bodyLength: number,
      inMemory: readonly Buffer[] | null,
      bodyCrc: number,
    ) => void,
  ) {}

  private crc = 0;

  write(chunk: Buffer): Promise<void> {
    if (this.phase !== "writing") return Promise.reject(new Error(`spool writer is ${this.phase}`));
    if (this.failed !== null) return Promise.reject(this.failed);
    this.crc = crc32(chunk, this.crc);
    // Received chunks are not reused by their producer (the SMTP engine hands out fresh buffers
    // or views of socket reads), so keeping references is safe; the coalescing buffer is reused
    // and never kept.
    if (this.kept !== null) {
      this.keptBytes += chunk.length;
      if (this.keptBytes <= KEEP_BYTES) this.kept.push(chunk);
      else this.kept = null;
    }
    // Fast path: nothing on its way to disk and the chunk fits: copy and return at once.
    if (this.pending === 0 && chunk.length < DIRECT_BYTES && this.used + chunk.length <= COALESCE_BYTES) {
      this.buffer().set(chunk, this.used);
      this.used += chunk.length;
      return Promise.resolve();
    }
    return this.serial(() => this.append(chunk));
  }

  commit(envelope: Envelope): Promise<void> {
    return this.serial(async () => {
      if (this.phase !== "writing") throw new Error(`spool writer is ${this.phase}`);
      const body = this.written + this.used;
      const inMemory = this.kept;
      this.kept = null;
      await this.flush([encodeTail(envelope, body, this.crc)]);
      await fdatasyncFd(this.fd);
      this.phase = "closed";
      await closeFd(this.fd);
      await renamePath(this.paths.tmp, this.paths.active);
      this.phase = "renamed";
      await this.activeSync.sync();
      this.phase = "committed";
      this.onCommitted(body, inMemory, this.crc);
    });
  }

  async abort(): Promise<void> {
    // Wait for whatever is under way, but do not let its failure stop the clean-up.
    await this.tail.catch(() => undefined);
    const phase = this.phase;
    if (phase === "committed" || phase === "aborted") return;
    this.phase = "aborted";
    if (phase === "writing") await closeFd(this.fd).catch(() => undefined);
    // After the rename the file is in active/ but its commit failed: the client will be told to
    // retry, so keeping it would deliver the message twice.
    await unlinkPath(phase === "renamed" ? this.paths.active : this.paths.tmp).catch(() => undefined);
  }

  private buffer(): Buffer {
    this.buf ??= Buffer.allocUnsafe(COALESCE_BYTES);
    return this.buf;
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    this.pending++;
    const run = async (): Promise<void> => {
      try {
        if (this.failed !== null) throw this.failed;
        await fn();
      } catch (e) {
        this.failed ??= e instanceof Error ? e : new Error(String(e));
        throw e;
      } finally {
        this.pending--;
      }
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  private async append(chunk: Buffer): Promise<void> {
    if (chunk.length >= DIRECT_BYTES) {
      await this.flush([chunk]);
      return;
    }
    if (this.used + chunk.length > COALESCE_BYTES) await this.flush([]);
    this.buffer().set(chunk, this.used);
    this.used += chunk.length;
  }

  /** Write the coalescing buffer followed by `more`, in one writev. */
  private async flush(more: Buffer[]): Promise<void> {
    const bufs = this.used > 0 && this.buf !== null ? [this.buf.subarray(0, this.used), ...more] : more;
    let total = 0;
    for (const b of bufs) total += b.length;
    if (total > 0) await writevAll(this.fd, bufs);
    this.written += total;
    this.used = 0;
  }
}
