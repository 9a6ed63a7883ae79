// A session's input from its client (SMTP, LMTP, POP3): socket chunks queued until the session
// reads them, framed into command lines (CommandLines), dot-stuffed text (a DataDecoder the
// caller configures) or exact byte counts (BDAT). Everything here is untrusted and bounded: the
// line limit comes from the protocol's settings, and past HIGH_WATER queued bytes the socket is
// paused, so a slow sink or handler slows the client down instead of growing memory.
//
// Invariants: only one read is outstanding at a time (sessions run one command at a time);
// before it waits for the client the session's queued output is flushed, so a pipelining client
// is never left waiting for an answer it needs (RFC 2920).
import type { Socket } from "node:net";
import { CommandLines, type CommandLine } from "../../proto/commandline.js";
import type { DataDecoder } from "../../proto/dataframe.js";
import type { IdleClock } from "./idle.js";
import type { SessionOutput } from "./output.js";

const HIGH_WATER = 256 * 1024;

/** What the input needs from its session. */
export interface InputOwner {
  /** The current socket (it changes at STARTTLS). */
  readonly socket: Socket;
  /** Asked before waiting for the client: true ends reading (the session has been shut down). */
  interrupted(): boolean;
}

export class LineInput {
  private readonly lines: CommandLines;
  private queue: Buffer[] = [];
  private queued = 0;
  private paused = false;
  private waiter: ((b: Buffer | null) => void) | null = null;
  private ended = false;

  constructor(
    maxLine: number,
    private readonly owner: InputOwner,
    private readonly output: SessionOutput,
    private readonly idle: IdleClock,
  ) {
    this.lines = new CommandLines(maxLine);
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
      this.owner.socket.pause();
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

  /**
   * Feed dot-stuffed text to `dec` up to its end (CRLF.CRLF), handing every decoded piece
   * (possibly empty) to `take`; the bytes after the end stay queued as command input. False when
   * the client went away first.
   */
  async readDotted(dec: DataDecoder, take: (data: Buffer) => Promise<void> | void): Promise<boolean> {
    let chunk: Buffer | null = this.lines.take();
    for (;;) {
      if (chunk === null) return false;
      const r = dec.feed(chunk);
      await take(r.data);
      if (r.end) {
        this.lines.push(r.rest);
        return true;
      }
      chunk = await this.more();
    }
  }

  /** Read exactly n raw bytes (BDAT), handing each piece to take; false when the client is gone. */
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
   * STARTTLS/STLS: stop reading from the plain socket and drop everything already received from
   * it; the number of bytes dropped. CVE-2011-0411: bytes sent after the command but before the
   * handshake are not commands.
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

  /** The next chunk from the client; writes queued output first if it has to wait. */
  private async more(): Promise<Buffer | null> {
    for (;;) {
      const b = this.queue.shift();
      if (b !== undefined) {
        this.queued -= b.length;
        if (this.paused && this.queued < HIGH_WATER / 2) {
          this.paused = false;
          this.owner.socket.resume();
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
