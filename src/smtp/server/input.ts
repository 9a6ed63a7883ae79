// A session's input from the client: socket chunks queued until the session reads them, framed
// into command lines (CommandLines), dot-stuffed DATA (DataDecoder) or exact BDAT byte counts.
// Everything here is untrusted and bounded: command line, data line and message size come from
// settings, and past HIGH_WATER queued bytes the socket is paused, so a slow sink or handler slows
// the client down instead of growing memory.
//
// Invariants: only one read is outstanding at a time (the session runs one command at a time);
// before it waits for the client the session's queued replies are flushed, so a pipelining client
// is never left waiting for an answer it needs (RFC 2920).
import type { Socket } from "node:net";
import type { Settings } from "../../config/settings.js";
import type { Log } from "../../log/logger.js";
import { CommandLines, type CommandLine } from "../../proto/commandline.js";
import { DATA_ERROR_REPLIES, DataDecoder, type ContentRules } from "../../proto/dataframe.js";
import { REPLIES, type Reply } from "../../proto/reply.js";
import type { MessageSink } from "../handler.js";
import type { IdleClock } from "./idle.js";
import type { ReplyOutput } from "./output.js";

const HIGH_WATER = 256 * 1024;

/** What the input needs from its session. */
export interface InputOwner {
  /** The current socket (it changes at STARTTLS). */
  socket(): Socket;
  /** The session's log (it changes when a preamble names the real client). */
  log(): Log;
  safely<T>(what: string, call: () => Promise<T>): Promise<T | null>;
  /** Asked before waiting for the client: true ends reading (the session has been shut down). */
  interrupted(): boolean;
}

export class SessionInput {
  private readonly lines: CommandLines;
  private queue: Buffer[] = [];
  private queued = 0;
  private paused = false;
  private waiter: ((b: Buffer | null) => void) | null = null;
  private ended = false;

  constructor(
    private readonly limits: Settings["smtp"],
    private readonly owner: InputOwner,
    private readonly output: ReplyOutput,
    private readonly idle: IdleClock,
  ) {
    this.lines = new CommandLines(limits.maxCommandLine);
  }

  /** The client has gone (or the session gave up on it): nothing more will be read. */
  get eof(): boolean {
    return this.ended;
  }

  /** Received but not yet read: bytes, and whether there are any chunks (early talker). */
  get queuedBytes(): number {
    return this.queued;
  }

  get hasQueued(): boolean {
    return this.queue.length > 0;
  }

  /** Bytes received and not yet read by any command: what a client sent ahead of a reply. */
  get unread(): number {
    return this.lines.buffered + this.queued;
  }

  readonly onData = (b: Buffer): void => {
    this.idle.touch();
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w(b);
      return;
    }
    this.queue.push(b);
    this.queued += b.length;
    if (this.queued >= HIGH_WATER && !this.paused) {
      this.paused = true;
      this.owner.socket().pause();
    }
  };

  readonly onEnd = (): void => {
    this.ended = true;
    const w = this.waiter;
    this.waiter = null;
    w?.(null);
  };

  async readLine(): Promise<CommandLine | null> {
    for (;;) {
      const l = this.lines.next();
      if (l !== null) return l;
      const more = await this.more();
      if (more === null) return null;
      this.lines.push(more);
    }
  }

  async receiveData(sink: MessageSink, content: ContentRules): Promise<Reply | null> {
    const dec = new DataDecoder({
      maxBytes: this.limits.maxMessageSize,
      maxLine: this.limits.maxDataLine,
      header: this.limits,
      content,
    });
    let aborted = false;
    let writeFailed = false;
    const abort = async (): Promise<void> => {
      if (aborted) return;
      aborted = true;
      await this.owner.safely("abort", () => sink.abort());
    };
    let chunk: Buffer | null = this.lines.take();
    for (;;) {
      if (chunk === null) {
        await abort();
        return null;
      }
      const r = dec.feed(chunk);
      if (dec.error !== null || writeFailed) await abort();
      else if (r.data.length > 0) {
        try {
          await sink.write(r.data);
        } catch (e) {
          this.owner
            .log()
            .problem("message write failed", { error: e instanceof Error ? e.message : String(e) });
          writeFailed = true;
          await abort();
        }
      }
      if (r.end) {
        this.lines.push(r.rest);
        break;
      }
      chunk = await this.more();
    }
    if (writeFailed) return REPLIES.queueWriteFailed;
    if (dec.error !== null) {
      this.owner.log().problem("message refused", {
        reason: dec.error,
        bytes: dec.bytes,
        longestLine: dec.longestLine,
      });
      return DATA_ERROR_REPLIES[dec.error];
    }
    return (await this.owner.safely("end", () => sink.end())) ?? REPLIES.queueWriteFailed;
  }

  async receiveBytes(n: number, take: (piece: Buffer) => Promise<void>): Promise<boolean> {
    let left = n;
    let chunk: Buffer = this.lines.take();
    while (left > 0) {
      if (chunk.length === 0) {
        const more = await this.more();
        if (more === null) return false;
        chunk = more;
        continue;
      }
      const piece = chunk.length <= left ? chunk : chunk.subarray(0, left);
      chunk = chunk.subarray(piece.length);
      left -= piece.length;
      await take(piece);
    }
    this.lines.push(chunk);
    return true;
  }

  /**
   * STARTTLS: stop reading from the plain socket and drop everything already received from it;
   * the number of bytes dropped. CVE-2011-0411: bytes sent after STARTTLS but before the handshake
   * are not commands.
   */
  detach(raw: Socket): number {
    raw.off("data", this.onData);
    raw.pause();
    let dropped = this.lines.take().length + this.queued;
    this.queue = [];
    this.queued = 0;
    this.paused = false;
    for (let b: unknown = raw.read(); b !== null; b = raw.read())
      dropped += Buffer.isBuffer(b) ? b.length : 0;
    return dropped;
  }

  /** The next chunk from the client; writes queued replies first if it has to wait. */
  private async more(): Promise<Buffer | null> {
    for (;;) {
      const b = this.queue.shift();
      if (b !== undefined) {
        this.queued -= b.length;
        if (this.paused && this.queued < HIGH_WATER / 2) {
          this.paused = false;
          this.owner.socket().resume();
        }
        return b;
      }
      if (this.ended) return null;
      if (this.owner.interrupted()) return null;
      if (this.output.empty) break;
      await this.output.flush();
    }
    this.idle.waiting = true;
    this.idle.touch();
    const got = await new Promise<Buffer | null>((resolve) => (this.waiter = resolve));
    this.idle.waiting = false;
    return got;
  }
}
