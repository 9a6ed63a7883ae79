// One POP3 connection (RFC 1939): the AUTHORIZATION → TRANSACTION → UPDATE state machine and its
// I/O. Everything the client sends is untrusted: command lines are bounded (MAX_COMMAND_LINE),
// so are errors (pop3.maxErrors), idle time and session time; XTND XMIT's message is bounded by
// the message size limits (xmit.ts). Commands run one at a time in order, so a pipelining client
// (RFC 2449 PIPELINING) gets its answers in order. Every answer is "+OK" or "-ERR" with a text
// that says what was wrong, and the RFC 2449/3206 response code where one applies.
//
// Deletions are applied only in the UPDATE state, entered by QUIT from TRANSACTION (§6); a
// connection that ends any other way (dropped, timed out, server shutdown) changes nothing.
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { LEVELS, type Log } from "../../log/logger.js";
import { CommandLines } from "../../proto/commandline.js";
import { DataDecoder, type DataError, type DataLimits } from "../../proto/dataframe.js";
import { errLine, okLine } from "../../proto/pop3.js";
import type { Account } from "../../directory/directory.js";
import type { TimerHandle } from "../../world/clock.js";
import { AUTHORIZATION_COMMANDS } from "./authorization.js";
import type { Maildrop } from "./maildrop.js";
import { MAX_COMMAND_LINE, type Pop3Options } from "./options.js";
import { TRANSACTION_COMMANDS } from "./transaction.js";

export type Pop3State = "authorization" | "transaction" | "update";

export interface Pop3Command {
  readonly name: string;
  readonly states: readonly Pop3State[];
  run(s: Pop3Session, arg: string): Promise<void>;
}

const COMMANDS = new Map<string, Pop3Command>(
  [...AUTHORIZATION_COMMANDS, ...TRANSACTION_COMMANDS].map((c) => [c.name, c]),
);
const LINGER_MS = 10_000;
const HIGH_WATER = 256 * 1024;

let lastId = 0;
const nextId = (): number => (lastId = lastId >= 999_999 ? 1 : lastId + 1);

export type DataResult = { readonly data: Buffer } | { readonly error: DataError } | null;

export class Pop3Session {
  readonly id = nextId();
  readonly remote: { readonly address: string; readonly port: number };
  log: Log;
  state: Pop3State = "authorization";
  /** The name given by USER, waiting for PASS. */
  pendingUser: string | null = null;
  account: Account | null = null;
  drop: Maildrop | null = null;
  /** Releases the mailbox lock; set with drop. */
  release: (() => Promise<void>) | null = null;

  private sock: Socket;
  private readonly lines = new CommandLines(MAX_COMMAND_LINE);
  private queue: Buffer[] = [];
  private queued = 0;
  private paused = false;
  private waiter: ((b: Buffer | null) => void) | null = null;
  private ended = false;
  private closing = false;
  private shuttingDown = false;
  private terminated = false;
  private waiting = false;
  private lastInput: number;
  private errors = 0;
  private tlsOn = false;
  private timers: TimerHandle[] = [];
  private readonly started: number;
  private readonly socketClosed: Promise<void>;

  constructor(
    socket: Socket,
    readonly o: Pop3Options,
  ) {
    this.sock = socket;
    this.remote = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    this.log = o.log.with(this.id, this.remote.address);
    this.started = o.clock.now();
    this.lastInput = this.started;
    this.socketClosed = new Promise((resolve) => socket.once("close", () => resolve()));
    this.listen(socket);
  }

  get tlsAvailable(): boolean {
    return this.o.tls !== null;
  }

  get tlsActive(): boolean {
    return this.tlsOn;
  }

  /** USER/PASS and AUTH may be used now. */
  get authAllowed(): boolean {
    return this.tlsOn || !this.o.settings.pop3.authRequiresTls;
  }

  async run(): Promise<void> {
    this.armTimers();
    try {
      this.log.info("connect", { remote: `${this.remote.address}:${this.remote.port}` });
      await this.send(okLine(`${this.o.settings.hostname} POP3 Mailyard ready`));
      await this.loop();
      if (this.shuttingDown && !this.terminated) await this.send(errLine("[SYS/TEMP] server shutting down"));
    } finally {
      await this.finish();
    }
  }

  /** Server shutdown: now when waiting for the client, else after the running command. */
  shutdown(): void {
    if (this.closing) return;
    this.closing = true;
    this.shuttingDown = true;
    if (this.waiting) this.terminate("[SYS/TEMP] server shutting down", "server shutting down");
  }

  destroy(): void {
    this.sock.destroy();
  }

  closed(): Promise<void> {
    return this.socketClosed;
  }

  // ---- what commands use ----------------------------------------------------------------

  async ok(text = ""): Promise<void> {
    await this.send(okLine(text));
  }

  async err(text: string): Promise<void> {
    this.errors++;
    await this.send(errLine(text));
  }

  /** Write bytes, waiting while the socket's buffer is full (a slow reader slows RETR down). */
  async send(data: string | Buffer): Promise<void> {
    const sock = this.sock;
    if (sock.destroyed || !sock.writable) return;
    if (sock.write(data)) return;
    this.waiting = true;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        // A client reading a long RETR slowly is not idle.
        this.lastInput = this.o.clock.now();
        sock.off("drain", done);
        sock.off("close", done);
        resolve();
      };
      sock.once("drain", done);
      sock.once("close", done);
    });
    this.waiting = false;
  }

  /** End the session after this command (QUIT, too many errors). */
  end(): void {
    this.closing = true;
  }

  /** A line from the client (commands, SASL responses); null when it went away. */
  async readLine(): Promise<{ readonly text: string } | "tooLong" | null> {
    for (;;) {
      const l = this.lines.next();
      if (l !== null) return l.kind === "tooLong" ? "tooLong" : { text: l.text.toString("utf8") };
      const more = await this.more();
      if (more === null) return null;
      this.lines.push(more);
    }
  }

  /** A dot-terminated, dot-stuffed message (XTND XMIT), bounded by the limits. */
  async readData(limits: Omit<DataLimits, "content">): Promise<DataResult> {
    // XMIT labels the message by what it holds (xmit.ts), so any content is taken here.
    const dec = new DataDecoder({ ...limits, content: { eightBit: true, nul: true } });
    const parts: Buffer[] = [];
    let chunk: Buffer | null = this.lines.take();
    for (;;) {
      if (chunk === null) return null;
      const r = dec.feed(chunk);
      if (dec.error === null && r.data.length > 0) parts.push(Buffer.from(r.data));
      if (r.end) {
        this.lines.push(r.rest);
        break;
      }
      chunk = await this.more();
    }
    if (dec.error !== null) return { error: dec.error };
    return { data: Buffer.concat(parts) };
  }

  /** STLS: "+OK", then the TLS handshake; false when it failed (the session is then over). */
  async startTls(): Promise<boolean> {
    const context = this.o.tls;
    if (context === null) return false;
    const raw = this.sock;
    // RFC 2595 §4 / CVE-2011-0411: anything sent before the handshake is not a command.
    raw.off("data", this.onData);
    raw.pause();
    let dropped = this.lines.take().length + this.queued;
    this.queue = [];
    this.queued = 0;
    this.paused = false;
    for (let b: unknown = raw.read(); b !== null; b = raw.read())
      dropped += Buffer.isBuffer(b) ? b.length : 0;
    if (dropped > 0) this.log.problem("discarded input pipelined after STLS", { bytes: dropped });
    raw.write(okLine("Begin TLS negotiation"));
    const secure = new TLSSocket(raw, { isServer: true, secureContext: context });
    this.sock = secure;
    this.waiting = true;
    this.lastInput = this.o.clock.now();
    const ok = await new Promise<boolean>((resolve) => {
      secure.once("secure", () => resolve(true));
      secure.once("close", () => resolve(false));
      secure.once("error", () => resolve(false));
    });
    this.waiting = false;
    if (!ok) {
      this.log.problem("TLS handshake failed");
      this.closing = true;
      this.onEnd();
      return false;
    }
    this.listen(secure);
    this.tlsOn = true;
    this.log.info("TLS established", {
      protocol: secure.getProtocol() ?? "",
      cipher: secure.getCipher().name,
    });
    return true;
  }

  // ---- the loop -------------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (!this.closing) {
      const line = await this.readLine();
      if (line === null || this.closing) return;
      if (line === "tooLong") await this.err("command line too long");
      else await this.dispatch(line.text);
      if (this.errors >= this.o.settings.pop3.maxErrors && !this.closing) {
        this.log.problem("too many errors", { errors: this.errors });
        await this.send(errLine("too many errors, closing connection"));
        this.closing = true;
      }
    }
  }

  private async dispatch(line: string): Promise<void> {
    const sp = line.indexOf(" ");
    const name = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    // Arguments are separated by single spaces (§3); trailing white space is forgiven.
    const arg = sp < 0 ? "" : line.slice(sp + 1).replace(/\s+$/, "");
    const cmd = COMMANDS.get(name);
    if (cmd === undefined) {
      if (/^(GET|POST|HEAD|PUT|CONNECT|OPTIONS|DELETE)$/.test(name)) {
        this.log.problem("non-POP3 command", { verb: name });
        await this.send(errLine("this is a POP3 server"));
        this.closing = true;
        return;
      }
      await this.err(`unknown command ${/^[A-Z]{1,8}$/.test(name) ? name : ""}`.trimEnd());
    } else if (!cmd.states.includes(this.state)) {
      await this.err(
        this.state === "authorization" ? `${name} needs a login first` : `${name} is not valid after login`,
      );
    } else {
      await cmd.run(this, arg);
    }
    if (this.log.enabled(LEVELS.all)) this.log.info("command", { verb: cmd === undefined ? "?" : name });
  }

  // ---- input ----------------------------------------------------------------------------

  private listen(sock: Socket): void {
    sock.on("data", this.onData);
    sock.on("end", this.onEnd);
    sock.on("close", this.onEnd);
    sock.on("error", this.onError);
  }

  private readonly onData = (b: Buffer): void => {
    this.lastInput = this.o.clock.now();
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
      this.sock.pause();
    }
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    const w = this.waiter;
    this.waiter = null;
    w?.(null);
  };

  private readonly onError = (e: Error): void => {
    this.log.low("socket error", { error: e.message });
    this.onEnd();
  };

  private async more(): Promise<Buffer | null> {
    const b = this.queue.shift();
    if (b !== undefined) {
      this.queued -= b.length;
      if (this.paused && this.queued < HIGH_WATER / 2) {
        this.paused = false;
        this.sock.resume();
      }
      return b;
    }
    if (this.ended || this.closing) return null;
    this.waiting = true;
    this.lastInput = this.o.clock.now();
    const got = await new Promise<Buffer | null>((resolve) => (this.waiter = resolve));
    this.waiting = false;
    return got;
  }

  // ---- timers and the end ---------------------------------------------------------------

  private armTimers(): void {
    const { clock, settings } = this.o;
    const idleMs = settings.pop3.idleTimeoutSeconds * 1000;
    const sessionMs = settings.pop3.sessionTimeoutSeconds * 1000;
    if (idleMs > 0) {
      const check = (): void => {
        if (this.ended) return;
        const idle = clock.now() - this.lastInput;
        if (this.waiting && idle >= idleMs) this.terminate("[SYS/TEMP] idle timeout", "idle timeout");
        else this.timers.push(clock.setTimeout(check, this.waiting ? idleMs - idle : idleMs));
      };
      this.timers.push(clock.setTimeout(check, idleMs));
    }
    if (sessionMs > 0)
      this.timers.push(
        clock.setTimeout(() => {
          if (!this.ended) this.terminate("[SYS/TEMP] session timeout", "session timeout");
        }, sessionMs),
      );
  }

  /** Say -ERR and close now, whatever the session is doing; nothing is deleted (§6). */
  private terminate(text: string, why: string): void {
    this.log.problem(why, {});
    this.closing = true;
    this.terminated = true;
    if (!this.sock.destroyed && this.sock.writable) this.sock.end(errLine(text));
    this.linger();
    this.onEnd();
  }

  private linger(): void {
    const sock = this.sock;
    if (sock.destroyed) return;
    const t = this.o.clock.setTimeout(() => sock.destroy(), LINGER_MS);
    sock.once("close", () => t.cancel());
  }

  private async finish(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.closing = true;
    await this.release?.().catch((e: unknown) =>
      this.log.problem("mailbox unlock failed", { error: String(e) }),
    );
    this.release = null;
    if (!this.sock.destroyed) {
      this.sock.end();
      this.linger();
    }
    this.log.info("disconnect", {
      user: this.account?.address,
      errors: this.errors,
      ms: this.o.clock.now() - this.started,
    });
  }
}
