// One inbound SMTP connection: the state machine and its I/O. Everything read from the socket is
// untrusted; verbs validate it, the DataDecoder frames message text, and every length, count and
// wait is bounded by settings (command line, data line, size, recipients, errors, idle and session
// timeouts).
//
// Invariants:
// - Commands run strictly one at a time, in order, even when pipelined (RFC 2920); replies are
//   queued and written in one socket write when the client's input is drained, or before the
//   session waits for anything from the client.
// - Input with backpressure, buffered replies, the idle and session timers and the end of the
//   session are the session kernel's (../kernel/core.ts), shared with LMTP and POP3.
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
import type { TLSSocket } from "node:tls";
import type { ServerTls } from "../kernel/core.js";
import type { Settings } from "../../config/settings.js";
import { LEVELS, type Log } from "../../log/logger.js";
import type { Metrics } from "../../log/metrics.js";
import type { CommandLine } from "../../proto/commandline.js";
import type { ContentRules } from "../../proto/dataframe.js";
import { REPLIES, formatReply, type Reply } from "../../proto/reply.js";
import type { Clock } from "../../world/clock.js";
import type { Endpoint, ListenerKind, MessageSink, SessionInfo, SmtpHandler } from "../handler.js";
import { CoreSession, SessionCore, type EndReason } from "../kernel/core.js";
import { receiveData } from "./input.js";
import type { OpenTransaction, SessionApi, Verb } from "./verb.js";

const FORBIDDEN = new Set(["GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE"]);
// RFC 2920 §3.1: these end a pipelined group (the set Postfix enforces; QUIT ends the session anyway).
const GROUP_END = new Set(["EHLO", "HELO", "DATA", "NOOP", "VRFY", "EXPN"]);
// Verbs whose argument may be logged (AUTH's never is: it can carry a password).
const LOGGED_ARG = new Set(["EHLO", "HELO", "MAIL", "RCPT", "VRFY", "BDAT"]);
const FAREWELL: Readonly<Record<EndReason, Reply>> = {
  "idle timeout": REPLIES.idleTimeout,
  "session timeout": REPLIES.sessionTimeout,
  "server shutting down": REPLIES.serviceUnavailable,
};

export interface SessionOptions {
  readonly settings: Settings;
  readonly listener: ListenerKind;
  readonly handler: SmtpHandler;
  /** The server's SMTPI log; the session logs under its own id and remote address. */
  readonly log: Log;
  readonly clock: Clock;
  /** Connection counts (absent: not counted, as on an LMTP listener). */
  readonly metrics?: Metrics;
  readonly tls: ServerTls | null;
  /**
   * The cluster member a TLS peer's certificate proves (SessionInfo.member); absent: no member
   * certificates are looked at.
   */
  readonly memberOf?: (socket: TLSSocket) => string | null;
  /** TLS from the first byte (RFC 8314 submissions, port 465): the handshake comes before the 220. */
  readonly implicitTls?: boolean;
  readonly verbs: ReadonlyMap<string, Verb>;
  /** The protocol's name in logs (default: the listener kind). */
  readonly protocol?: string;
  /** The 220 greeting (default: "<hostname> ESMTP Mailyard"). */
  readonly greeting?: (s: SessionApi) => Reply;
  /** SessionApi.challenge (default null). */
  readonly challenge?: string | null;
  /**
   * Refuse a client that talks before the greeting (default true: RFC 5321 §3.1, as Postfix's
   * postscreen does); an LMTP listener of cluster members does not need the check.
   */
  readonly earlyTalker?: boolean;
  /** Whether a 4xx/5xx reply now counts towards smtp.maxErrors (default: always). */
  readonly countsErrors?: (s: SessionApi) => boolean;
  /**
   * Seam for a PROXY protocol header (src/proto/proxy-header.ts): runs before the greeting, reads its header
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

export class Session extends CoreSession implements SessionApi {
  readonly id: number;
  readonly listener: ListenerKind;
  readonly settings: Settings;
  readonly handler: SmtpHandler;
  readonly verbs: ReadonlyMap<string, Verb>;
  readonly challenge: string | null;
  log: Log;
  helo: string | null = null;
  esmtp = false;
  authUser: string | null = null;
  tx: OpenTransaction | null = null;

  private remote: Endpoint;
  private readonly local: Endpoint;
  protected readonly core: SessionCore;
  private lastCode = 0;
  private errors = 0;
  private messages = 0;

  constructor(
    socket: Socket,
    private readonly o: SessionOptions,
  ) {
    super();
    this.listener = o.listener;
    this.settings = o.settings;
    this.handler = o.handler;
    this.verbs = o.verbs;
    this.challenge = o.challenge ?? null;
    this.remote = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    this.local = { address: socket.localAddress ?? "", port: socket.localPort ?? 0 };
    this.core = new SessionCore(socket, {
      clock: o.clock,
      maxLine: o.settings.smtp.maxCommandLine,
      log: () => this.log,
      remote: () => this.remote.address,
      farewell: (why) => formatReply(FAREWELL[why]),
    });
    this.id = this.core.id;
    this.log = o.log.with(this.id, this.remote.address);
  }

  get tlsAvailable(): boolean {
    return this.o.tls !== null;
  }

  get tlsActive(): boolean {
    return this.core.tlsActive;
  }

  info(): SessionInfo {
    return {
      id: this.id,
      listener: this.listener,
      remote: this.remote,
      local: this.local,
      helo: this.helo,
      esmtp: this.esmtp,
      tls: this.core.tlsActive,
      authUser: this.authUser,
      ...(this.o.memberOf !== undefined
        ? { member: this.core.tlsActive ? this.o.memberOf(this.core.socket as TLSSocket) : null }
        : {}),
    };
  }

  /** The whole life of the connection; resolves once the session is over (socket ending). */
  async run(): Promise<void> {
    this.o.metrics?.connectionOpened(this.listener);
    this.core.armTimers(
      this.settings.smtp.idleTimeoutSeconds * 1000,
      this.settings.smtp.sessionTimeoutSeconds * 1000,
    );
    try {
      const preamble = this.o.preamble;
      if (preamble !== undefined) {
        let real: Endpoint | null;
        try {
          real = await preamble(this.core.socket);
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
        listener: this.o.protocol ?? this.listener,
        remote: `${this.remote.address}:${this.remote.port}`,
        local: `${this.local.address}:${this.local.port}`,
      });
      // A failed or timed-out handshake ends the session: plain text would be garbage to the client.
      if (this.o.implicitTls === true && (this.o.tls === null || !(await this.core.acceptTls(this.o.tls))))
        return;
      this.core.startReading();
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
      if (refusal === null && this.core.closing) refusal = REPLIES.serviceUnavailable;
      if (refusal !== null) {
        this.log.problem("connection refused", { code: refusal.code });
        this.reply(refusal);
        return;
      }
      if (this.o.earlyTalker !== false && this.core.input.hasQueued) {
        this.log.problem("early talker", { bytes: this.core.input.queuedBytes });
        this.reply(REPLIES.earlyTalker);
        return;
      }
      this.reply(this.o.greeting?.(this) ?? REPLIES.greeting({ host: this.settings.hostname }));
      await this.loop();
    } finally {
      await this.finish();
    }
  }

  // ---- SessionApi -------------------------------------------------------------------------

  reply(r: Reply): void {
    this.core.output.add(formatReply(r));
    this.lastCode = r.code;
    if (r.code >= 400 && r.code !== 421 && (this.o.countsErrors?.(this) ?? true)) this.errors++;
  }

  quit(r: Reply): void {
    this.reply(r);
    this.core.closing = true;
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
    return this.core.input.readLine();
  }

  async receiveData(sink: MessageSink, content: ContentRules): Promise<Reply | null> {
    const r = await receiveData(
      {
        input: this.core.input,
        limits: this.settings.smtp,
        log: () => this.log,
        safely: (what, call) => this.safely(what, call),
      },
      sink,
      content,
    );
    // Only the sink's own end reply can be a success: the message was accepted.
    if (r !== null && r.code < 300) this.messages++;
    return r;
  }

  receiveBytes(n: number, take: (piece: Buffer) => Promise<void>): Promise<boolean> {
    return this.core.input.receiveBytes(n, take);
  }

  async startTls(): Promise<boolean> {
    const context = this.o.tls;
    if (context === null) return false;
    return this.core.startTls(context, formatReply(REPLIES.readyTls), "STARTTLS");
  }

  // ---- the command loop ---------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (!this.core.closing) {
      const line = await this.readLine();
      if (line === null || this.core.closing) return;
      if (line.kind === "tooLong") {
        this.reply(REPLIES.lineTooLong);
        this.log.info("command", { verb: "", code: this.lastCode });
      } else {
        await this.dispatch(line.text);
      }
      if (this.errors >= this.settings.smtp.maxErrors && !this.core.closing) {
        this.log.problem("too many errors", { errors: this.errors });
        this.quit(REPLIES.tooManyErrors);
      }
      if (this.core.pendingShutdown) this.quit(REPLIES.serviceUnavailable);
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
    const bytes = this.core.input.unread;
    if (bytes === 0) return false;
    this.log.problem("improper command pipelining", { after: name.slice(0, 16), bytes });
    this.quit(REPLIES.outOfStep);
    return true;
  }

  // ---- the end ------------------------------------------------------------------------------

  private async finish(): Promise<void> {
    await this.core.finish(() => this.resetTx());
    try {
      this.handler.close(this.info());
    } catch (e) {
      this.log.problem("handler call failed", {
        call: "close",
        error: e instanceof Error ? e.message : String(e),
      });
    }
    this.o.metrics?.connectionClosed(this.listener);
    this.log.info("disconnect", {
      messages: this.messages,
      errors: this.errors,
      ms: this.o.clock.now() - this.core.started,
    });
  }
}
