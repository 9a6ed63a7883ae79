// A raw SMTP test client: writes exactly the bytes a test gives (pipelined, malformed, hostile)
// and reads whole replies (multi-line joined). Every wait is bounded; a closed connection is an
// answer (null), not a hang.
import net from "node:net";
import tls from "node:tls";

export interface SmtpReply {
  readonly code: number;
  /** Text of each line after "NNN-"/"NNN ". */
  readonly lines: string[];
  /** The reply as received, CRLFs included. */
  readonly raw: string;
}

export class SmtpClient {
  private buf = "";
  private pending: SmtpReply[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  private readonly closedP: Promise<void>;
  private closeResolve: () => void = () => undefined;

  private constructor(private sock: net.Socket) {
    this.closedP = new Promise((r) => (this.closeResolve = r));
    this.attach(sock);
    sock.on("close", () => {
      this.ended = true;
      this.closeResolve();
      this.wake();
    });
    sock.on("error", () => undefined);
  }

  /** localAddress: the loopback address to connect from (a "remote client" such as 127.0.0.5). */
  static connect(port: number, host = "127.0.0.1", localAddress?: string): Promise<SmtpClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, ...(localAddress !== undefined ? { localAddress } : {}) });
      s.once("connect", () => resolve(new SmtpClient(s)));
      s.once("error", reject);
    });
  }

  /** A client over a socket already connected (and secured) by the test. */
  static over(sock: net.Socket): SmtpClient {
    return new SmtpClient(sock);
  }

  private readonly onData = (d: Buffer): void => {
    this.buf += d.toString("latin1");
    let lines: string[] = [];
    let start = 0;
    for (;;) {
      const i = this.buf.indexOf("\r\n", start);
      if (i < 0) break;
      const line = this.buf.slice(start, i);
      start = i + 2;
      lines.push(line);
      if (line[3] !== "-") {
        const raw = lines.map((l) => `${l}\r\n`).join("");
        this.pending.push({ code: Number(line.slice(0, 3)), lines: lines.map((l) => l.slice(4)), raw });
        lines = [];
        this.buf = this.buf.slice(start);
        start = 0;
      }
    }
    this.wake();
  };

  private attach(s: net.Socket): void {
    s.on("data", this.onData);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  get closedNow(): boolean {
    return this.ended;
  }

  send(data: string | Buffer): void {
    this.sock.write(data);
  }

  /** The next reply, or null once the server closed with no reply left. */
  async reply(timeoutMs = 5000): Promise<SmtpReply | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.pending.shift();
      if (r) return r;
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no SMTP reply within ${timeoutMs} ms (buffer: ${JSON.stringify(this.buf)})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** The next reply; fails the test when the connection closed instead. */
  async expect(code?: number): Promise<SmtpReply> {
    const r = await this.reply();
    if (r === null) throw new Error(`connection closed, expected ${code ?? "a reply"}`);
    if (code !== undefined && r.code !== code) throw new Error(`expected ${code}, got ${r.raw.trimEnd()}`);
    return r;
  }

  /** Send one command line (CRLF added) and read its reply. */
  async cmd(line: string, code?: number): Promise<SmtpReply> {
    this.send(`${line}\r\n`);
    return this.expect(code);
  }

  async replies(n: number): Promise<SmtpReply[]> {
    const out: SmtpReply[] = [];
    for (let i = 0; i < n; i++) out.push(await this.expect());
    return out;
  }

  /** After the server's 220 to STARTTLS: handshake (certificate not verified) and continue over TLS. */
  async startTls(extra: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    this.sock.off("data", this.onData);
    const secure = tls.connect({
      socket: this.sock,
      rejectUnauthorized: false,
      servername: "localhost",
      ...extra,
    });
    await new Promise<void>((resolve, reject) => {
      secure.once("secureConnect", () => resolve());
      secure.once("error", reject);
    });
    secure.on("error", () => undefined);
    this.sock = secure;
    this.attach(secure);
    return secure;
  }

  /** Resolves when the server has closed the connection (bounded). */
  async closed(timeoutMs = 5000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`connection not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closedP, timeout]);
    } finally {
      clearTimeout(t);
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
