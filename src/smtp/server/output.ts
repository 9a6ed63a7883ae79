// A session's replies on their way out: queued as text and written in one socket write when the
// session flushes (before it waits for the client, at STARTTLS, at the end), so pipelined
// replies (RFC 2920) go out together. Backpressure: a write that fills the send buffer makes the
// session wait for "drain", with the idle timeout running.
import type { Socket } from "node:net";
import { formatReply, type Reply } from "../../proto/reply.js";
import type { IdleClock } from "./idle.js";

export class ReplyOutput {
  private out = "";

  /** `socket` gives the current socket (it changes at STARTTLS). */
  constructor(
    private readonly socket: () => Socket,
    private readonly idle: IdleClock,
  ) {}

  get empty(): boolean {
    return this.out === "";
  }

  add(r: Reply): void {
    this.out += formatReply(r);
  }

  /** The queued text, leaving nothing queued (for a last write that ends the socket). */
  take(): string {
    const text = this.out;
    this.out = "";
    return text;
  }

  async flush(): Promise<void> {
    if (this.out === "") return;
    const text = this.take();
    const sock = this.socket();
    if (sock.destroyed || !sock.writable) return;
    if (sock.write(text)) return;
    this.idle.waiting = true;
    this.idle.touch();
    await new Promise<void>((resolve) => {
      const done = (): void => {
        sock.off("drain", done);
        sock.off("close", done);
        resolve();
      };
      sock.on("drain", done);
      sock.on("close", done);
    });
    this.idle.waiting = false;
  }
}
