// A raw POP3 test client: sends exactly the lines a test gives (pipelined, malformed) and reads
// status lines and multi-line responses. Every wait is bounded; a closed connection reads as null.
import net from "node:net";
import tls from "node:tls";

const WAIT_MS = 10_000;

export class Pop3Client {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private ended = false;

  private constructor(private sock: net.Socket) {
    this.attach(sock);
  }

  /** localAddress: the loopback address to connect from (a "remote client" such as 127.0.0.5). */
  static connect(port: number, host = "127.0.0.1", localAddress?: string): Promise<Pop3Client> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, ...(localAddress !== undefined ? { localAddress } : {}) });
      s.once("connect", () => resolve(new Pop3Client(s)));
      s.once("error", reject);
    });
  }

  private attach(s: net.Socket): void {
    s.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    s.on("close", () => {
      this.ended = true;
      this.wake();
    });
    s.on("error", () => undefined);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async until<T>(take: () => T | null): Promise<T | null> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const got = take();
      if (got !== null) return got;
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`POP3 client: no answer within ${WAIT_MS} ms (have ${this.buf.toString()})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  get closed(): boolean {
    return this.ended;
  }

  send(line: string | Buffer): void {
    this.sock.write(line);
  }

  /** One line without CRLF, or null when the server closed. */
  line(): Promise<string | null> {
    return this.until(() => {
      const i = this.buf.indexOf("\r\n");
      if (i < 0) return null;
      const l = this.buf.subarray(0, i).toString("latin1");
      this.buf = this.buf.subarray(i + 2);
      return l;
    });
  }

  /** Send a command and read its status line. */
  async cmd(line: string): Promise<string | null> {
    this.send(`${line}\r\n`);
    return this.line();
  }

  /** The body of a multi-line response (after its +OK line), dot-unstuffed, as raw bytes. */
  multi(): Promise<Buffer | null> {
    return this.until(() => {
      const s = this.buf.toString("latin1");
      const end = s.startsWith(".\r\n") ? 0 : s.indexOf("\r\n.\r\n");
      if (end < 0) return null;
      const bodyEnd = end === 0 ? 0 : end + 2;
      const body = s.slice(0, bodyEnd);
      this.buf = this.buf.subarray(bodyEnd + 3);
      return Buffer.from(body.replace(/^\./gm, ""), "latin1");
    });
  }

  /** Status line and, when it is +OK, the multi-line body. */
  async multiCmd(line: string): Promise<{ status: string | null; body: string }> {
    const status = await this.cmd(line);
    if (status === null || !status.startsWith("+OK")) return { status, body: "" };
    return { status, body: (await this.multi())?.toString("latin1") ?? "" };
  }

  /** STLS has been answered +OK: handshake (certificates are not verified in tests). */
  async upgrade(): Promise<void> {
    const raw = this.sock;
    raw.removeAllListeners("data");
    raw.removeAllListeners("close");
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", () => resolve());
      secure.once("error", reject);
    });
    this.sock = secure;
    this.attach(secure);
  }

  /** Resolves when the server closed the connection (bounded). */
  async waitClosed(): Promise<void> {
    await this.until(() => (this.ended ? true : null));
  }

  close(): void {
    this.sock.destroy();
  }
}
