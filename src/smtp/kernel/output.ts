// A session's output to its client: text queued and written in one socket write when the session
// flushes (before it waits for the client, at STARTTLS, at the end), so pipelined replies
// (RFC 2920) go out together; or written at once (POP3's multi-line answers). Backpressure: a
// write that fills the send buffer makes the session wait for "drain", with the idle timeout
// running, and a client that drains again is not idle (a slow reader of a long RETR).
import type { Socket } from "node:net";
import type { IdleClock } from "./idle.js";

export class SessionOutput {
  private out = "";

  /** `owner.socket` is the current socket (it changes at STARTTLS). */
  constructor(
    private readonly owner: { readonly socket: Socket },
    private readonly idle: IdleClock,
  ) {}

  get empty(): boolean {
    return this.out === "";
  }

  add(text: string): void {
    this.out += text;
  }

  /** The queued text, leaving nothing queued (for a last write that ends the socket). */
  take(): string {
    const text = this.out;
    this.out = "";
    return text;
  }

  async flush(): Promise<void> {
    if (this.out === "") return;
    await this.write(this.take());
  }

  /** Write now, waiting while the socket's send buffer is full. */
  async write(data: string | Buffer): Promise<void> {
    const sock = this.owner.socket;
    if (sock.destroyed || !sock.writable) return;
    if (sock.write(data)) return;
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
    this.idle.touch();
    this.idle.waiting = false;
  }
}
