// One TCP (later TLS) connection to a remote SMTP server: replies in order, writes, the message
// body with dot-stuffing and backpressure, the STARTTLS upgrade. Every wait has a time limit on
// the injected clock. The peer is untrusted: replies go through the bounded ReplyParser, and
// replies nobody asked for are capped. Once the connection fails it stays failed: every later
// read rejects with the same SmtpClientError, queued replies first.
import net from "node:net";
import tls from "node:tls";
import type { Readable } from "node:stream";
import type { Reply } from "../../proto/reply.js";
import type { Clock } from "../../world/clock.js";
import type { TlsaRecord } from "../../proto/dns-message.js";
import { CrlfText } from "../../proto/stray-cr-lf.js";
import { daneProblem, pkixProblem, type CertificateProblem } from "./certificate-check.js";
import { DotStuffer } from "./dot-stuffer.js";
import { SmtpClientError, asClientError } from "./errors.js";
import { NO_EXTENSIONS, type Extensions } from "./extensions.js";
import { ReplyParser } from "./reply-parser.js";

/** Most bytes sent under one BDAT command; finer body chunks are grouped up to it. */
const BDAT_BYTES = 256 * 1024;
/** A pipelined transaction has one reply per command; more than this unread is a flood. */
const MAX_QUEUED_REPLIES = 10_000;

export interface ConnectionTarget {
  /** The name we looked up (MX host or forwarding host), for TLS SNI and logs. */
  readonly host: string;
  readonly address: string;
  readonly port: number;
  /** A cluster member (a frontend taking a backend's relayed mail), not a server outside. */
  readonly member?: boolean;
}

/** What a verified TLS handshake checks. */
export interface TlsVerify {
  /** PEM bundle(s) of the trusted CAs; undefined = Node's root CAs. */
  readonly ca: string | readonly string[] | undefined;
  /** The name (or address) the certificate must carry: the host as configured. */
  readonly name: string;
  /**
   * Usable DANE TLSA records (RFC 7672): when given they, not the CAs, decide (certificate-check.ts).
   */
  readonly tlsa?: readonly TlsaRecord[];
}

export class SmtpConnection {
  /** "host[address]:port", as outcomes and logs name the remote server. */
  readonly relay: string;
  extensions: Extensions = NO_EXTENSIONS;
  tls = false;
  /**
   * The TLS certificate chains to a trusted CA and names the host we looked up (RFC 6125). Only
   * recorded, never enforced here: opportunistic TLS goes on either way; REQUIRETLS asks for it.
   */
  verified = false;
  /** Why the Web PKI check (CAs and host name) failed, after TLS; null when it passed or before TLS. */
  pkix: CertificateProblem | null = null;
  /** The SASL mechanism the session logged in with (smarthost AUTH); null: not logged in. */
  authenticated: string | null = null;
  /** Transactions that reached their final reply on this connection. */
  transactions = 0;
  private socket: net.Socket;
  private readonly parser = new ReplyParser();
  private readonly replies: Reply[] = [];
  private failure: SmtpClientError | null = null;
  private readonly failWatchers = new Set<(e: SmtpClientError) => void>();
  private readonly closeWatchers = new Set<() => void>();
  private replyWaiter: ((r: Reply) => void) | null = null;

  constructor(
    socket: net.Socket,
    readonly target: ConnectionTarget,
    private readonly clock: Clock,
  ) {
    this.relay = `${target.host}[${target.address}]:${target.port}`;
    this.socket = socket;
    socket.setNoDelay(true);
    this.attach(socket);
  }

  get alive(): boolean {
    return this.failure === null;
  }

  /** Called once when the connection fails or closes (used by the idle pool). */
  onClose(fn: () => void): () => void {
    this.closeWatchers.add(fn);
    return () => this.closeWatchers.delete(fn);
  }

  /** Queue bytes for sending; several writes in one tick leave as one segment where possible. */
  write(data: string | Buffer): void {
    if (this.failure !== null) return;
    this.socket.write(data);
  }

  /** The next reply, waiting at most timeoutMs; `waitingFor` names the step for error texts. */
  readReply(timeoutMs: number, waitingFor: string): Promise<Reply> {
    const queued = this.replies.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.failure !== null) return Promise.reject(this.failure);
    return this.wait<Reply>(timeoutMs, `timed out waiting for reply to ${waitingFor}`, (resolve) => {
      this.replyWaiter = resolve;
      return () => (this.replyWaiter = null);
    });
  }

  /**
   * Send the message bytes dot-stuffed, then the end-of-data marker. Each wait for the socket to
   * drain is bounded by timeoutMs. A failure to read the body is a "local" error and leaves the
   * connection failed (the DATA phase cannot be finished cleanly).
   */
  async writeBody(body: Readable, timeoutMs: number): Promise<void> {
    const stuffer = new DotStuffer();
    const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
    // Corked from the first chunk to the end marker: a message that fits the socket buffer,
    // end marker included, leaves in one write instead of one per chunk plus one for ".".
    const sock = this.socket;
    sock.cork();
    try {
      for (;;) {
        const chunk = await this.nextChunk(it);
        if (chunk === null) break;
        for (const part of stuffer.push(chunk)) sock.write(part);
        await this.relieve(sock, timeoutMs);
      }
      this.write(stuffer.end());
    } finally {
      sock.uncork();
      // Stops and closes the body stream when we leave early.
      await it.return?.();
    }
    this.throwIfFailed();
  }

  /**
   * RFC 3030 BDAT: `head` (the pipelined MAIL and RCPT commands), then the body as "BDAT <size>"
   * commands each followed by exactly its bytes, the last one marked LAST, all corked so a small
   * message leaves in one write. Chunks read from the body are grouped up to BDAT_BYTES per
   * command (however finely the body stream is cut) and one group is read ahead to tell which is
   * last. Sizes are the bytes actually read, so any body is framed right; nothing is
   * dot-stuffed. `text`: the body is not BINARYMIME, so its stray CR and LF become CRLF as over
   * DATA (stray-cr-lf.ts): a next hop that passes it on over DATA cannot be fed a forged end of
   * data through us either. Returns how many BDAT commands were sent: the server answers each.
   */
  async writeChunked(head: string, body: Readable, timeoutMs: number, text: boolean): Promise<number> {
    const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
    const sock = this.socket;
    let sent = 0;
    let pending: Buffer | null = null;
    const crlf = text ? new CrlfText() : null;
    let ended = false;
    /** The next non-empty body chunk (line endings made CRLF for text), null at the end. */
    const next = async (): Promise<Buffer | null> => {
      while (!ended) {
        const c = await this.nextChunk(it);
        if (crlf === null) return c;
        const out = c === null ? crlf.end() : crlf.push(c);
        if (c === null) ended = true;
        if (out.length > 0) return out;
      }
      return null;
    };
    /** The next group of chunks, null when the body has ended. */
    const group = async (): Promise<{ bufs: Buffer[]; bytes: number } | null> => {
      const bufs: Buffer[] = [];
      let bytes = 0;
      for (;;) {
        const c = pending ?? (await next());
        pending = null;
        if (c === null) break;
        if (bytes > 0 && bytes + c.length > BDAT_BYTES) {
          pending = c;
          break;
        }
        bufs.push(c);
        bytes += c.length;
      }
      return bufs.length === 0 ? null : { bufs, bytes };
    };
    sock.cork();
    try {
      let cur = await group();
      sock.write(head);
      for (;;) {
        const ahead = cur === null ? null : await group();
        const last = ahead === null;
        sock.write(`BDAT ${cur?.bytes ?? 0}${last ? " LAST" : ""}\r\n`);
        for (const b of cur?.bufs ?? []) sock.write(b);
        sent++;
        if (last) break;
        cur = ahead;
        await this.relieve(sock, timeoutMs);
      }
    } finally {
      sock.uncork();
      await it.return?.();
    }
    this.throwIfFailed();
    return sent;
  }

  /**
   * The next body chunk, null at its end. A failure to read the body is a "local" error and
   * leaves the connection failed (the transfer cannot be finished cleanly).
   */
  private async nextChunk(it: AsyncIterator<Buffer | string>): Promise<Buffer | null> {
    let r: IteratorResult<Buffer | string>;
    try {
      r = await it.next();
    } catch (e) {
      const err = new SmtpClientError(
        "local",
        `reading the queued message failed: ${asClientError(e).message}`,
      );
      this.fail(err);
      throw err;
    }
    this.throwIfFailed();
    if (r.done === true) return null;
    return typeof r.value === "string" ? Buffer.from(r.value) : r.value;
  }

  /** While corked: once a buffer's worth is queued, let it out and wait (bounded) for drain. */
  private async relieve(sock: net.Socket, timeoutMs: number): Promise<void> {
    if (sock.writableLength < sock.writableHighWaterMark) return;
    sock.uncork();
    try {
      if (sock.writableNeedDrain) await this.drain(timeoutMs);
    } finally {
      sock.cork();
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }

  /**
   * Upgrade to TLS: after a 220 to STARTTLS (RFC 3207), or on a fresh connection for implicit TLS
   * (RFC 8314). Without `verify` (opportunistic) certificates are not checked; with it the
   * handshake must end in a chain to `verify.ca` (Node's root CAs when absent) and a certificate
   * naming `verify.name`, else the connection fails as "untrusted" before a byte is sent over it.
   * Anything the server sent before in plaintext is discarded unread, so an injected reply cannot
   * pose as an answer over TLS.
   */
  async startTls(
    servername: string | null,
    timeoutMs: number,
    verify: TlsVerify | null = null,
    /** The CAs `verified` is judged by when nothing is enforced (REQUIRETLS); default Node's. */
    trusted?: readonly string[],
  ): Promise<void> {
    if (this.failure !== null) throw this.failure;
    this.parser.reset();
    this.replies.length = 0;
    const raw = this.socket;
    raw.removeAllListeners("data");
    raw.removeAllListeners("end");
    // Checked by hand after the handshake (below), so the failure can say which check failed.
    const secure = tls.connect({
      socket: raw,
      rejectUnauthorized: false,
      ...(servername !== null ? { servername } : {}),
      ...(verify?.ca !== undefined
        ? { ca: typeof verify.ca === "string" ? verify.ca : [...verify.ca] }
        : trusted !== undefined
          ? { ca: [...trusted] }
          : {}),
    });
    this.socket = secure;
    this.attach(secure);
    try {
      await this.wait<void>(timeoutMs, "timed out during TLS handshake", (resolve) => {
        secure.once("secureConnect", () => resolve());
        return () => undefined;
      });
    } catch (e) {
      const err = asClientError(e);
      const tlsErr =
        err.kind === "lost" ? new SmtpClientError("tls", `TLS handshake failed: ${err.message}`) : err;
      this.fail(tlsErr);
      throw tlsErr;
    }
    const untrusted =
      verify === null
        ? null
        : verify.tlsa !== undefined
          ? daneProblem(secure, verify.tlsa, verify.name, this.clock.now())
          : pkixProblem(secure, verify.name);
    if (untrusted !== null) {
      const err = new SmtpClientError(
        "untrusted",
        `certificate of ${this.relay} not verified: ${untrusted.text}`,
        untrusted.result,
      );
      this.fail(err);
      throw err;
    }
    this.tls = true;
    // DANE-authenticated counts as verified too (RFC 8689 §4.2.1 allows either).
    this.pkix = pkixProblem(secure, this.target.host.replace(/\.$/, ""));
    this.verified = verify?.tlsa !== undefined || this.pkix === null;
  }

  /** Say QUIT and wait (bounded) for the reply, then close. Never rejects. */
  async quit(timeoutMs: number): Promise<void> {
    if (this.failure === null) {
      this.write("QUIT\r\n");
      await this.readReply(timeoutMs, "QUIT").catch(() => undefined);
    }
    this.destroy();
  }

  destroy(): void {
    this.fail(new SmtpClientError("lost", "connection closed by us"));
  }

  private attach(sock: net.Socket): void {
    sock.on("data", (chunk: Buffer) => this.data(chunk));
    sock.on("error", (e: Error) =>
      this.fail(new SmtpClientError("lost", `lost connection with ${this.relay}: ${e.message}`)),
    );
    sock.on("end", () => this.fail(new SmtpClientError("lost", `lost connection with ${this.relay}`)));
    sock.on("close", () => this.fail(new SmtpClientError("lost", `lost connection with ${this.relay}`)));
  }

  private data(chunk: Buffer): void {
    if (this.failure !== null) return;
    let got: Reply[];
    try {
      got = this.parser.push(chunk);
    } catch (e) {
      this.fail(asClientError(e, "protocol"));
      return;
    }
    for (const r of got) {
      const waiter = this.replyWaiter;
      if (waiter !== null) {
        this.replyWaiter = null;
        waiter(r);
      } else if (this.replies.push(r) > MAX_QUEUED_REPLIES) {
        this.fail(new SmtpClientError("protocol", "too many unsolicited replies"));
        return;
      }
    }
  }

  private fail(e: SmtpClientError): void {
    if (this.failure !== null) return;
    this.failure = e;
    this.socket.destroy();
    for (const w of [...this.failWatchers]) w(e);
    for (const w of [...this.closeWatchers]) w();
    this.closeWatchers.clear();
  }

  private drain(timeoutMs: number): Promise<void> {
    return this.wait<void>(timeoutMs, "timed out sending message content", (resolve) => {
      const sock = this.socket;
      const done = (): void => resolve();
      sock.once("drain", done);
      return () => sock.removeListener("drain", done);
    });
  }

  /**
   * Wait for `arm` to resolve, the connection to fail, or the clock to pass timeoutMs (which
   * fails the connection: after a timeout the conversation state is unknown).
   */
  private wait<T>(
    timeoutMs: number,
    timeoutText: string,
    arm: (resolve: (v: T) => void) => () => void,
  ): Promise<T> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      let disarm: () => void = () => undefined;
      const finish = (): void => {
        timer.cancel();
        disarm();
        this.failWatchers.delete(onFail);
      };
      const onFail = (e: SmtpClientError): void => {
        finish();
        reject(e);
      };
      const timer = this.clock.setTimeout(() => {
        this.fail(new SmtpClientError("timeout", `conversation with ${this.relay} ${timeoutText}`));
      }, timeoutMs);
      this.failWatchers.add(onFail);
      disarm = arm((v) => {
        finish();
        resolve(v);
      });
    });
  }
}
