// The socket under one milter conversation: connects (TCP or a Unix socket) within a timeout,
// writes frames with backpressure and hands out the milter's replies one at a time, each wait
// bounded by a timeout on the injected clock. All the protocol is in src/proto/milter/codec.ts;
// here only bytes move. A milter that closes, times out or sends what the codec refuses ends the
// connection for good: every later call answers with the same failure, never a hang.
//
// Frames the milter answers nothing to (its SMFIP_NR_* flags: rspamd asks for no reply to
// anything but the end of message) are held and written together when a reply is awaited, the
// connection closes, or 64 KiB are held: one write and one segment per message instead of one
// per header and body piece (what Postfix's buffered milter stream does too). rspamd spent 1.7×
// Postfix's CPU on Mailyard's messages while each frame went out on its own. Nagle is off: a
// milter that answers nothing until the end of message also delays its ACKs, so a second write
// (the end of message after 64 KiB of body) would wait up to 40 ms for one.
import net from "node:net";
import { FrameDecoder, replyOf, type MilterReply } from "../../proto/milter/codec.js";
import type { Clock } from "../../world/clock.js";
import type { MilterTarget } from "./spec.js";

const FLUSH_BYTES = 64 * 1024;

export type Received = MilterReply | { readonly kind: "failed"; readonly reason: string };

export class MilterConnection {
  private readonly decoder = new FrameDecoder();
  private readonly replies: MilterReply[] = [];
  private waiter: (() => void) | null = null;
  private failure: string | null = null;
  private held: Buffer[] = [];
  private heldBytes = 0;

  private constructor(
    private readonly sock: net.Socket,
    private readonly clock: Clock,
  ) {
    sock.on("data", (chunk: Buffer) => {
      const frames = this.decoder.push(chunk);
      if (typeof frames === "string") return this.fail(frames);
      for (const f of frames) {
        const r = replyOf(f);
        if (typeof r === "string") return this.fail(r);
        this.replies.push(r);
      }
      this.wake();
    });
    sock.on("error", (e) => this.fail(`milter socket error: ${e.message}`));
    sock.on("close", () => this.fail("milter closed the connection"));
  }

  /** Connects within timeoutMs; the reason as a string when it cannot. */
  static open(target: MilterTarget, clock: Clock, timeoutMs: number): Promise<MilterConnection | string> {
    return new Promise((resolve) => {
      const sock =
        target.kind === "unix"
          ? net.connect({ path: target.path })
          : net.connect({ host: target.host, port: target.port, noDelay: true });
      let done = false;
      const finish = (v: MilterConnection | string): void => {
        if (done) return;
        done = true;
        timer.cancel();
        resolve(v);
      };
      const timer = clock.setTimeout(() => {
        sock.destroy();
        finish("milter connect timed out");
      }, timeoutMs);
      sock.once("connect", () => {
        sock.removeAllListeners("error");
        finish(new MilterConnection(sock, clock));
      });
      sock.once("error", (e) => {
        sock.destroy();
        finish(`milter connect failed: ${e.message}`);
      });
    });
  }

  get failed(): string | null {
    return this.failure;
  }

  /**
   * Queues the frames, written with the next reply awaited (or at 64 KiB held); resolves when
   * the socket takes more, or the connection has failed (a milter that stops reading for
   * timeoutMs has failed: it timed out).
   */
  async send(frames: readonly Buffer[], timeoutMs: number): Promise<void> {
    if (this.failure !== null) return;
    for (const f of frames) {
      this.held.push(f);
      this.heldBytes += f.length;
    }
    if (this.heldBytes >= FLUSH_BYTES) await this.flush(timeoutMs);
  }

  /** Writes what is held in one go, waiting (up to timeoutMs) while the socket is full. */
  private async flush(timeoutMs: number): Promise<void> {
    if (this.held.length === 0 || this.failure !== null) return;
    if (this.writeHeld() || this.failure !== null) return;
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.fail("milter timed out");
        done();
      }, timeoutMs);
      const done = (): void => {
        timer.cancel();
        this.sock.off("drain", done);
        this.sock.off("close", done);
        resolve();
      };
      this.sock.on("drain", done);
      this.sock.on("close", done);
    });
  }

  /** Writes what is held as one batch (one writev); false when the socket wants a drain first. */
  private writeHeld(): boolean {
    const frames = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.sock.cork();
    let ok = true;
    for (const f of frames) ok = this.sock.write(f) && ok;
    this.sock.uncork();
    return ok;
  }

  /** The next reply, or a failure (closed, garbage, or nothing within timeoutMs). */
  async next(timeoutMs: number): Promise<Received> {
    await this.flush(timeoutMs);
    if (this.replies.length === 0 && this.failure === null) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(() => {
          this.fail("milter timed out");
        }, timeoutMs);
        this.waiter = () => {
          timer.cancel();
          resolve();
        };
      });
    }
    const r = this.replies.shift();
    if (r !== undefined) return r;
    return { kind: "failed", reason: this.failure ?? "milter connection failed" };
  }

  /** Ends the connection (after a QUIT was sent, or on failure). */
  close(): void {
    if (this.failure === null) this.writeHeld();
    this.held = [];
    this.heldBytes = 0;
    this.sock.end();
    this.sock.destroy();
    if (this.failure === null) this.failure = "milter connection closed";
    this.wake();
  }

  private fail(reason: string): void {
    if (this.failure === null) this.failure = reason;
    this.sock.destroy();
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}
