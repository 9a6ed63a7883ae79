// A POP3 client (RFC 1939, STLS of RFC 2595) for polling remote mailboxes: connects through the
// injected Dialer, waits on the injected clock, and treats everything the server sends as
// untrusted: status lines are bounded (MAX_LINE), multi-line answers by a byte limit given per
// call; past a limit the connection is given up (it cannot be resynchronised). Replies are
// values ({ ok, text }); only I/O failures (closed, timed out, TLS) reject, with a Pop3IoError.
import { createHash } from "node:crypto";
import type net from "node:net";
import tls from "node:tls";
import type { Clock } from "../../world/clock.js";
import type { Dialer } from "../../world/dialer.js";

const MAX_LINE = 8192;
const LF = 0x0a;

export class Pop3IoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Pop3IoError";
  }
}

export interface Pop3Reply {
  readonly ok: boolean;
  readonly text: string;
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the start (POP3S). */
  readonly tls: boolean;
  readonly tlsVerify: boolean;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

export class Pop3ClientConnection {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private ended = false;
  private failure: string | null = null;
  /** The greeting's text (holds the APOP timestamp). */
  greeting = "";

  private constructor(
    private sock: net.Socket,
    private readonly o: ConnectOptions & { readonly clock: Clock },
  ) {
    this.attach(sock);
  }

  static async open(dialer: Dialer, clock: Clock, o: ConnectOptions): Promise<Pop3ClientConnection> {
    let sock: net.Socket;
    try {
      sock = await dialer.connect({ host: o.host, port: o.port, timeoutMs: o.connectTimeoutMs });
    } catch (e) {
      throw new Pop3IoError(`connect: ${e instanceof Error ? e.message : String(e)}`);
    }
    const c = new Pop3ClientConnection(sock, { ...o, clock });
    try {
      if (o.tls) await c.secure();
      const g = await c.status();
      if (!g.ok) throw new Pop3IoError(`greeting refused: ${g.text.slice(0, 200)}`);
      c.greeting = g.text;
      return c;
    } catch (e) {
      c.close();
      throw e;
    }
  }

  private attach(s: net.Socket): void {
    s.on("data", (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.wake();
    });
    s.on("close", () => {
      this.ended = true;
      this.wake();
    });
    s.on("error", (e: Error) => {
      this.failure ??= e.message;
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Waits for more input, bounded by the command timeout; rejects when the peer is gone. */
  private async more(): Promise<void> {
    if (this.ended) throw new Pop3IoError(this.failure ?? "connection closed by the server");
    let timedOut = false;
    await new Promise<void>((resolve) => {
      const t = this.o.clock.setTimeout(() => {
        timedOut = true;
        this.waiter = null;
        resolve();
      }, this.o.commandTimeoutMs);
      this.waiter = () => {
        t.cancel();
        resolve();
      };
    });
    if (timedOut) {
      this.close();
      throw new Pop3IoError("timed out waiting for the server");
    }
  }

  private async line(): Promise<string> {
    for (;;) {
      const lf = this.buf.indexOf(LF);
      if (lf >= 0) {
        if (lf > MAX_LINE) break;
        const end = lf > 0 && this.buf[lf - 1] === 0x0d ? lf - 1 : lf;
        const text = this.buf.subarray(0, end).toString("utf8");
        this.buf = this.buf.subarray(lf + 1);
        return text;
      }
      if (this.buf.length > MAX_LINE) break;
      await this.more();
    }
    this.close();
    throw new Pop3IoError("server line too long");
  }

  /** One status line: +OK or -ERR and the rest. */
  async status(): Promise<Pop3Reply> {
    const l = await this.line();
    if (l.startsWith("+OK")) return { ok: true, text: l.slice(3).trim() };
    if (l.startsWith("-ERR")) return { ok: false, text: l.slice(4).trim() };
    this.close();
    throw new Pop3IoError(`not a POP3 status line: ${l.slice(0, 100)}`);
  }

  async command(line: string): Promise<Pop3Reply> {
    this.write(`${line}\r\n`);
    return this.status();
  }

  /** The rest of a multi-line answer: dot-unstuffed, every line ending CRLF; rejects past maxBytes. */
  async multi(maxBytes: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const lf = this.buf.indexOf(LF);
      if (lf < 0) {
        if (this.buf.length > maxBytes - total + MAX_LINE) break;
        await this.more();
        continue;
      }
      const end = lf > 0 && this.buf[lf - 1] === 0x0d ? lf - 1 : lf;
      let start = 0;
      if (this.buf[0] === 0x2e) {
        if (end === 1) {
          this.buf = this.buf.subarray(lf + 1);
          return Buffer.concat(parts);
        }
        start = 1;
      }
      const piece = Buffer.concat([this.buf.subarray(start, end), Buffer.from("\r\n")]);
      total += piece.length;
      if (total > maxBytes) break;
      parts.push(piece);
      this.buf = this.buf.subarray(lf + 1);
    }
    this.close();
    throw new Pop3IoError("multi-line answer over its size limit");
  }

  /** A command with a multi-line answer: its body, or the -ERR. */
  async multiCommand(
    line: string,
    maxBytes: number,
  ): Promise<{ ok: true; body: Buffer } | { ok: false; text: string }> {
    const r = await this.command(line);
    if (!r.ok) return { ok: false, text: r.text };
    return { ok: true, body: await this.multi(maxBytes) };
  }

  /** STLS (RFC 2595 §4): false when the server refused it. */
  async stls(): Promise<boolean> {
    const r = await this.command("STLS");
    if (!r.ok) return false;
    // Anything the server sent after +OK and before the handshake is not to be trusted.
    this.buf = Buffer.alloc(0);
    await this.secure();
    return true;
  }

  /** APOP digest (RFC 1939 §7): MD5 of the greeting's timestamp and the password. */
  static apopDigest(greeting: string, password: string): string | null {
    const stamp = /<[^<>\s]+@[^<>\s]+>/.exec(greeting)?.[0];
    if (stamp === undefined) return null;
    return createHash("md5")
      .update(stamp + password, "utf8")
      .digest("hex");
  }

  private async secure(): Promise<void> {
    const raw = this.sock;
    raw.removeAllListeners("data");
    raw.removeAllListeners("close");
    raw.removeAllListeners("error");
    raw.on("error", () => undefined);
    const servername = /^[0-9.]+$|:/.test(this.o.host) ? undefined : this.o.host;
    const secure = tls.connect({
      socket: raw,
      rejectUnauthorized: this.o.tlsVerify,
      ...(servername !== undefined ? { servername } : {}),
    });
    this.sock = secure;
    this.attach(secure);
    await new Promise<void>((resolve, reject) => {
      const t = this.o.clock.setTimeout(() => {
        secure.destroy();
        reject(new Pop3IoError("TLS handshake timed out"));
      }, this.o.commandTimeoutMs);
      secure.once("secureConnect", () => {
        t.cancel();
        resolve();
      });
      secure.once("error", (e: Error) => {
        t.cancel();
        reject(new Pop3IoError(`TLS: ${e.message}`));
      });
    });
  }

  private write(s: string): void {
    if (this.ended) return;
    this.sock.write(s);
  }

  /** QUIT politely (bounded by the command timeout), then close. */
  async quit(): Promise<Pop3Reply | null> {
    try {
      return await this.command("QUIT");
    } catch {
      return null;
    } finally {
      this.close();
    }
  }

  close(): void {
    this.ended = true;
    this.sock.destroy();
  }
}
