// What an LMTP session reads from its peer: socket chunks queued until the session asks, framed
// into command lines (CommandLines) or dot-stuffed message text (DataDecoder: CRLF.CRLF is the
// only end, bare CR/LF is refused, size and line length bounded). The peer is untrusted even
// when it is a cluster member: past HIGH_WATER queued bytes the socket is paused, so a slow
// delivery slows the sender instead of growing memory.
//
// Invariant: before waiting for the peer, the session's queued replies are written, so a
// pipelining client is never left waiting for an answer it needs (RFC 2920).
import type { Socket } from "node:net";
import { CommandLines, type CommandLine } from "../proto/commandline.js";
import { DataDecoder, type DataError, type DataLimits } from "../proto/dataframe.js";
import type { IdleClock } from "../smtp/server/idle.js";
import type { ReplyOutput } from "../smtp/server/output.js";

const HIGH_WATER = 256 * 1024;

export type ReceivedData =
  { readonly ok: true; readonly message: Buffer } | { readonly ok: false; readonly error: DataError };

export class ChannelInput {
  private readonly lines: CommandLines;
  private queue: Buffer[] = [];
  private queued = 0;
  private paused = false;
  private waiter: ((b: Buffer | null) => void) | null = null;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    maxCommandLine: number,
    private readonly output: ReplyOutput,
    private readonly idle: IdleClock,
    /** Asked before waiting: true ends reading (the session is being shut down). */
    private readonly interrupted: () => boolean,
  ) {
    this.lines = new CommandLines(maxCommandLine);
  }

  get eof(): boolean {
    return this.ended;
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
      this.socket.pause();
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
   * The message text up to CRLF.CRLF, unstuffed; an error once the whole text has been read when
   * it broke a rule (the session stays in step with the peer); null when the peer went away.
   */
  async readData(limits: DataLimits): Promise<ReceivedData | null> {
    const dec = new DataDecoder(limits);
    const parts: Buffer[] = [];
    let chunk: Buffer | null = this.lines.take();
    for (;;) {
      if (chunk === null) return null;
      const r = dec.feed(chunk);
      // The decoder hands out nothing after an error, and nothing past the size limit.
      if (dec.error === null && r.data.length > 0) parts.push(r.data);
      if (r.end) {
        this.lines.push(r.rest);
        break;
      }
      chunk = await this.more();
    }
    if (dec.error !== null) return { ok: false, error: dec.error };
    return { ok: true, message: Buffer.concat(parts) };
  }

  /** The next chunk from the peer; writes queued replies first if it has to wait. */
  private async more(): Promise<Buffer | null> {
    for (;;) {
      const b = this.queue.shift();
      if (b !== undefined) {
        this.queued -= b.length;
        if (this.paused && this.queued < HIGH_WATER / 2) {
          this.paused = false;
          this.socket.resume();
        }
        return b;
      }
      if (this.ended || this.interrupted()) return null;
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
