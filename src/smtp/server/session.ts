// One inbound SMTP connection: the state machine and its I/O. Everything read from the socket is
// untrusted; verbs validate it, the DataDecoder frames message text, and every length, count and
// wait is bounded by settings (command line, data line, size, recipients, errors, idle and session
// timeouts).
//
// Invariants:
// - Commands run strictly one at a time, in order, even when pipelined (RFC 2920); replies are
//   queued and written in one socket write when the client's input is drained, or before the
//   session waits for anything from the client.
// - Input is read with backpressure (input.ts); replies are buffered and flushed by output.ts.
// - The idle timeout only runs while the session waits for the client (input, a full send
//   buffer or a TLS handshake), never while a handler call is in progress (idle.ts).
// - Early talker: a client that sends before the greeting is sent 554 and disconnected, as
//   Postfix's postscreen does; an honest client always waits for the 220 (RFC 5321 §3.1).
// - HTTP probe: GET/POST/HEAD/PUT/CONNECT/OPTIONS/DELETE as a command gets 554 and the connection
//   closes at once (Postfix's smtpd_forbidden_commands): a browser or proxy abuser is not an MTA.
// - Pipelining out of step (smtp.forbidUnauthPipelining, Postfix's smtpd_forbid_unauth_pipelining):
//   a client that has not logged in and sends more before the reply to a command that must end a
//   pipelined group (RFC 2920 §3.1), or pipelines at all without PIPELINING (HELO, or before EHLO),
//   gets 554 5.5.0 instead of that command's reply and is disconnected. Message content may still
//   start a group (§3.1): commands right after the end of data or BDAT LAST are in step.
import type { Socket } from "node:net";
import { TLSSocket, type SecureContext } from "node:tls";
import type { Settings } from "../../config/settings.js";
import { LEVELS, type Log } from "../../log/logger.js";
import type { Metrics } from "../../log/metrics.js";
import type { CommandLine } from "../../proto/commandline.js";
import type { ContentRules } from "../../proto/dataframe.js";
import { REPLIES, formatReply, reply, type Reply } from "../../proto/reply.js";
import type { Clock, TimerHandle } from "../../world/clock.js";
import type { Endpoint, ListenerKind, MessageSink, SessionInfo, SmtpHandler } from "../handler.js";
import { IdleClock } from "./idle.js";
import { SessionInput } from "./input.js";
import { ReplyOutput } from "./output.js";
import type { OpenTransaction, SessionApi, Verb } from "./verb.js";

const FORBIDDEN = new Set(["GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE"]);
// RFC 2920 §3.1: these end a pipelined group (the set Postfix enforces; QUIT ends the session anyway).
const GROUP_END = new Set(["EHLO", "HELO", "DATA", "NOOP", "VRFY", "EXPN"]);
// Verbs whose argument may be logged (AUTH's never is: it can carry a password).
const LOGGED_ARG = new Set(["EHLO", "HELO", "MAIL", "RCPT", "VRFY", "BDAT"]);
/** How long a closed session's socket may linger to flush its last reply. */
const LINGER_MS = 10_000;

let lastSessionId = 0;
/** 6-digit session ids, unique within the process until they wrap after 999999. */
export function nextSessionId(): number {
  lastSessionId = lastSessionId >= 999_999 ? 1 : lastSessionId + 1;
  return lastSessionId;
}

export interface SessionOptions {
  readonly settings: Settings;
  readonly listener: ListenerKind;
  readonly handler: SmtpHandler;
  /** The server's SMTPI log; the session logs under its own id and remote address. */
  readonly log: Log;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly tls: SecureContext | null;
  readonly verbs: ReadonlyMap<string, Verb>;
  /**
   * Seam for a PROXY protocol header (later issue): runs before the greeting, reads its header
   * from the socket (leaving the socket positioned just after it) and names the real client, or
   * null to keep the TCP peer. A rejection closes the connection without a greeting.
   */
  readonly preamble?: ((socket: Socket) => Promise<Endpoint | null>) | undefined;
}

const decodeCommand = (b: Buffer): string | null => {
  const s = b.toString("utf8");
  // U+FFFD means either invalid UTF-8 or a client that really sent it; only the first is refused.
  if (s.includes("\uFFFD") && !b.includes("\xef\xbf\xbd", 0, "latin1")) return null;
  return s;
};

export class Session implements SessionApi {
  readonly id = nextSessionId();
  readonly listener: ListenerKind;
  readonly settings: Settings;
  readonly handler: SmtpHandler;
  readonly verbs: ReadonlyMap<string, Verb>;
  log: Log;
  helo: string | null = null;
  esmtp = false;
  authUser: string | null = null;
  tx: OpenTransaction | null = null;

  private sock: Socket;
  private remote: Endpoint;
  private readonly local: Endpoint;
  private readonly started: number;
  private readonly idle: IdleClock;
  private readonly input: SessionInput;
  private readonly output: ReplyOutput;
  private tlsOn = false;
  private closing = false;
  /** shutdown() came while a command was running: 421 once it is done. */
  private pendingShutdown = false;
  private handshaking = false;
  private lingering = false;
  private lastCode = 0;
  private errors = 0;
  private messages = 0;
  private timers: TimerHandle[] = [];
  private socketClosed: Promise<void>;

  constructor(
    socket: Socket,
    private readonly o: SessionOptions,
  ) {
    this.sock = socket;
    this.listener = o.listener;
    this.settings = o.settings;
    this.handler = o.handler;
    this.verbs = o.verbs;
    this.remote = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    this.local = { address: socket.localAddress ?? "", port: socket.localPort ?? 0 };
    this.log = o.log.with(this.id, this.remote.address);
    this.started = o.clock.now();
    this.idle = new IdleClock(o.clock, this.started);
    const current = (): Socket => this.sock;
    this.output = new ReplyOutput(current, this.idle);
    this.input = new SessionInput(
      o.settings.smtp,
      {
        socket: current,
        log: () => this.log,
        safely: (what, call) => this.safely(what, call),
        interrupted: () => this.interrupted(),
      },
      this.output,
      this.idle,
    );
    this.socketClosed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", this.onError);
    socket.on("end", this.input.onEnd);
    socket.on("close", this.input.onEnd);
  }

  get tlsAvailable(): boolean {
    return this.o.tls !== null;
  }

  get tlsActive(): boolean {
    return this.tlsOn;
  }

  info(): SessionInfo {
    return {
      id: this.id,
      listener: this.listener,
      remote: this.remote,
      local: this.local,
      helo: this.helo,
      esmtp: this.esmtp,
      tls: this.tlsOn,
      authUser: this.authUser,
    };
  }

  /** The whole life of the connection; resolves once the session is over (socket ending). */
  async run(): Promise<void> {
    this.o.metrics.connectionOpened(this.listener);
    this.armTimers();
    try {
      const preamble = this.o.preamble;
      if (preamble !== undefined) {
        let real: Endpoint | null;
        try {
          real = await preamble(this.sock);
        } catch (e) {
          this.log.problem("preamble refused", { error: e instanceof Error ? e.message : String(e) });
          return;
        }
        if (real !== null) {
          this.remote = real;
          this.log = this.o.log.with(this.id, real.address);
        }
      }
      this.log.info("connect", {
        listener: this.listener,
        remote: `${this.remote.address}:${this.remote.port}`,
        local: `${this.local.address}:${this.local.port}`,
      });
      this.sock.on("data", this.input.onData);
      let refusal: Reply | null;
      try {
        refusal = await this.handler.connect(this.info());
      } catch (e) {
        // Fail closed: a policy that could not decide does not let the client in.
        this.log.problem("handler call failed", {
          call: "connect",
          error: e instanceof Error ? e.message : String(e),
        });
        refusal = REPLIES.serviceUnavailable;
      }
      if (refusal === null && this.closing) refusal = REPLIES.serviceUnavailable;
      if (refusal !== null) {
        this.log.problem("connection refused", { code: refusal.code });
        this.reply(refusal);
        return;
      }
      if (this.input.hasQueued) {
        this.log.problem("early talker", { bytes: this.input.queuedBytes });
        this.reply(REPLIES.earlyTalker);
        return;
      }
      this.reply(reply(220, null, `${this.settings.hostname} ESMTP Mailyard`));
      await this.loop();
    } finally {
      await this.finish();
    }
  }

  /** The server is shutting down: 421 now if waiting for the client, else after this command. */
  shutdown(): void {
    if (this.closing) return;
    if (this.idle.waiting) this.terminate(REPLIES.serviceUnavailable, "server shutting down");
    else {
      this.closing = true;
      this.pendingShutdown = true;
    }
  }

  /** Drop the connection now (last resort at server close). */
  destroy(): void {
    this.sock.destroy();
  }

  /** Resolves when the socket is closed. */
  closed(): Promise<void> {
    return this.socketClosed;
  }

  // ---- SessionApi -------------------------------------------------------------------------

  reply(r: Reply): void {
    this.output.add(r);
    this.lastCode = r.code;
    if (r.code >= 400 && r.code !== 421) this.errors++;
  }

  quit(r: Reply): void {
    this.reply(r);
    this.closing = true;
  }

  async resetTx(): Promise<void> {
    const tx = this.tx;
    this.tx = null;
    if (tx?.bdat) await this.safely("abort", () => tx.bdat?.sink.abort() ?? Promise.resolve());
  }

  async safely<T>(what: string, call: () => Promise<T>): Promise<T | null> {
    try {
      return await call();
    } catch (e) {
      this.log.problem("handler call failed", {
        call: what,
        error: e instanceof Error ? e.message : String(e),
      });
      return null;
    }
  }

  readLine(): Promise<CommandLine | null> {
    return this.input.readLine();
  }

  async receiveData(sink: MessageSink, content: ContentRules): Promise<Reply | null> {
    const r = await this.input.receiveData(sink, content);
    // Only the sink's own end reply can be a success: the message was accepted.
    if (r !== null && r.code < 300) this.messages++;
    return r;
  }

  receiveBytes(n: number, take: (piece: Buffer) => Promise<void>): Promise<boolean> {
    return this.input.receiveBytes(n, take);
  }

  async startTls(): Promise<boolean> {
    const context = this.o.tls;
    if (context === null) return false;
    await this.output.flush();
    if (this.input.eof) return false;
    const raw = this.sock;
    const dropped = this.input.detach(raw);
    if (dropped > 0) this.log.problem("discarded input pipelined after STARTTLS", { bytes: dropped });
    // Written and wrapped in one tick: the client's ClientHello can only come after this 220.
    raw.write(formatReply(REPLIES.readyTls));
    const secure = new TLSSocket(raw, { isServer: true, secureContext: context });
    this.sock = secure;
    secure.on("error", this.onError);
    secure.on("end", this.input.onEnd);
    secure.on("close", this.input.onEnd);
    this.idle.waiting = true;
    this.handshaking = true;
    this.idle.touch();
    const ok = await new Promise<boolean>((resolve) => {
      secure.once("secure", () => resolve(true));
      secure.once("close", () => resolve(false));
      secure.once("error", () => resolve(false));
    });
    this.idle.waiting = false;
    this.handshaking = false;
    if (!ok || this.input.eof) {
      this.log.problem("TLS handshake failed");
      this.closing = true;
      // No read is outstanding during a command: this only marks the input as ended.
      this.input.onEnd();
      return false;
    }
    this.tlsOn = true;
    this.log.info("TLS established", {
      protocol: secure.getProtocol() ?? "",
      cipher: secure.getCipher().name,
    });
    secure.on("data", this.input.onData);
    return true;
  }

  // ---- the command loop ---------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (!this.closing) {
      const line = await this.readLine();
      if (line === null || this.closing) return;
      if (line.kind === "tooLong") {
        this.reply(REPLIES.lineTooLong);
        this.log.info("command", { verb: "", code: this.lastCode });
      } else {
        await this.dispatch(line.text);
      }
      if (this.errors >= this.settings.smtp.maxErrors && !this.closing) {
        this.log.problem("too many errors", { errors: this.errors });
        this.quit(REPLIES.tooManyErrors);
      }
      if (this.pendingShutdown) this.quit(REPLIES.serviceUnavailable);
    }
  }

  private async dispatch(text: Buffer): Promise<void> {
    const line = decodeCommand(text);
    if (line === null) {
      this.reply(REPLIES.syntaxError);
      return;
    }
    const sp = line.indexOf(" ");
    const name = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? "" : line.slice(sp + 1).trim();
    if (FORBIDDEN.has(name)) {
      this.log.problem("non-SMTP command", { verb: name.slice(0, 16) });
      this.quit(REPLIES.forbiddenCommand);
      return;
    }
    const verb = this.verbs.get(name);
    if (this.outOfStep(name)) return;
    if (verb === undefined) this.reply(REPLIES.syntaxError);
    else await verb.run(this, arg);
    if (this.log.enabled(LEVELS.all)) {
      this.log.info("command", {
        verb: verb === undefined ? "?" : name,
        arg: verb !== undefined && LOGGED_ARG.has(name) ? arg.slice(0, 300) : undefined,
        code: this.lastCode,
      });
    }
  }

  /**
   * The client sent more before the reply to `name` that it had to wait for: 554 and close
   * instead of running the command (as Postfix does, so nothing it sent ahead is acted on).
   */
  private outOfStep(name: string): boolean {
    if (!this.settings.smtp.forbidUnauthPipelining || this.authUser !== null) return false;
    if (name === "QUIT" || (this.esmtp && !GROUP_END.has(name))) return false;
    const bytes = this.input.unread;
    if (bytes === 0) return false;
    this.log.problem("improper command pipelining", { after: name.slice(0, 16), bytes });
    this.quit(REPLIES.outOfStep);
    return true;
  }

  // ---- input and its end ------------------------------------------------------------------

  private readonly onError = (e: Error): void => {
    this.log.low("socket error", { error: e.message });
    this.input.onEnd();
  };

  /** A shutdown that came during a command ends the session before it waits for the client. */
  private interrupted(): boolean {
    if (!this.pendingShutdown) return false;
    this.terminate(REPLIES.serviceUnavailable, "server shutting down");
    return true;
  }

  // ---- timers and the end -------------------------------------------------------------------

  private armTimers(): void {
    const idleMs = this.settings.smtp.idleTimeoutSeconds * 1000;
    const sessionMs = this.settings.smtp.sessionTimeoutSeconds * 1000;
    const clock = this.o.clock;
    if (idleMs > 0) {
      const check = (): void => {
        if (this.input.eof) return;
        const idle = clock.now() - this.idle.since;
        if (this.idle.waiting && idle >= idleMs) this.terminate(REPLIES.idleTimeout, "idle timeout");
        else this.timers.push(clock.setTimeout(check, this.idle.waiting ? idleMs - idle : idleMs));
      };
      this.timers.push(clock.setTimeout(check, idleMs));
    }
    if (sessionMs > 0) {
      this.timers.push(
        clock.setTimeout(() => {
          if (!this.input.eof) this.terminate(REPLIES.sessionTimeout, "session timeout");
        }, sessionMs),
      );
    }
  }

  /** Say r and close now, whatever the session is doing (timeouts, shutdown). */
  private terminate(r: Reply, why: string): void {
    this.log.problem(why, { remote: this.remote.address });
    this.output.add(r);
    this.closing = true;
    const text = this.output.take();
    if (this.handshaking) this.sock.destroy();
    else if (!this.sock.destroyed && this.sock.writable) this.sock.end(text);
    this.lingerThenDestroy();
    this.input.onEnd();
  }

  /** A client that never closes its side is cut off after a while (idempotent). */
  private lingerThenDestroy(): void {
    if (this.lingering || this.sock.destroyed) return;
    this.lingering = true;
    const sock = this.sock;
    const t = this.o.clock.setTimeout(() => sock.destroy(), LINGER_MS);
    sock.once("close", () => t.cancel());
  }

  private async finish(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.closing = true;
    await this.resetTx();
    await this.output.flush();
    if (!this.sock.destroyed) {
      this.sock.end();
      this.lingerThenDestroy();
    }
    try {
      this.handler.close(this.info());
    } catch (e) {
      this.log.problem("handler call failed", {
        call: "close",
        error: e instanceof Error ? e.message : String(e),
      });
    }
    this.o.metrics.connectionClosed(this.listener);
    this.log.info("disconnect", {
      messages: this.messages,
      errors: this.errors,
      ms: this.o.clock.now() - this.started,
    });
  }
}
