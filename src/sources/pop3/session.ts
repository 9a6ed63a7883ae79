// One POP3 connection (RFC 1939): the AUTHORIZATION → TRANSACTION → UPDATE state machine and its
// I/O. Everything the client sends is untrusted: command lines are bounded (MAX_COMMAND_LINE),
// so are errors (pop3.maxErrors), idle time and session time; XTND XMIT's message is bounded by
// the message size limits (xmit.ts). Input with backpressure, the timers and the end of the
// session are the session kernel's (src/smtp/kernel), shared with SMTP and LMTP. Commands run one at a time in order, so a pipelining client
// (RFC 2449 PIPELINING) gets its answers in order. Every answer is "+OK" or "-ERR" with a text
// that says what was wrong, and the RFC 2449/3206 response code where one applies.
//
// Deletions are applied only in the UPDATE state, entered by QUIT from TRANSACTION (§6); a
// connection that ends any other way (dropped, timed out, server shutdown) changes nothing.
import type { Socket } from "node:net";
import { LEVELS, type Log } from "../../log/logger.js";
import { DataDecoder, type DataError, type DataLimits } from "../../proto/dataframe.js";
import { errLine, okLine } from "../../proto/pop3.js";
import type { Account } from "../../directory/directory.js";
import { CoreSession, SessionCore, type EndReason } from "../../smtp/kernel/core.js";
import type { Maildrop } from "./maildrop.js";
import { MAX_COMMAND_LINE, type Pop3Options } from "./options.js";

export type Pop3State = "authorization" | "transaction" | "update";

export interface Pop3Command {
  readonly name: string;
  readonly states: readonly Pop3State[];
  run(s: Pop3Session, arg: string): Promise<void>;
}

const FAREWELL: Readonly<Record<EndReason, string>> = {
  "idle timeout": errLine("[SYS/TEMP] idle timeout"),
  "session timeout": errLine("[SYS/TEMP] session timeout"),
  "server shutting down": errLine("[SYS/TEMP] server shutting down"),
};

export type DataResult = { readonly data: Buffer } | { readonly error: DataError } | null;

export class Pop3Session extends CoreSession {
  readonly id: number;
  readonly remote: { readonly address: string; readonly port: number };
  log: Log;
  state: Pop3State = "authorization";
  /** The name given by USER, waiting for PASS. */
  pendingUser: string | null = null;
  account: Account | null = null;
  drop: Maildrop | null = null;
  /** Releases the mailbox lock; set with drop. */
  release: (() => Promise<void>) | null = null;

  protected readonly core: SessionCore;
  private errors = 0;

  constructor(
    socket: Socket,
    readonly o: Pop3Options,
    /** The command set by name (commands.ts); given, as the commands use this class. */
    private readonly commands: ReadonlyMap<string, Pop3Command>,
  ) {
    super();
    this.remote = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
    this.core = new SessionCore(socket, {
      clock: o.clock,
      maxLine: MAX_COMMAND_LINE,
      log: () => this.log,
      remote: () => this.remote.address,
      farewell: (why) => FAREWELL[why],
    });
    this.id = this.core.id;
    this.log = o.log.with(this.id, this.remote.address);
    this.core.startReading();
  }

  get tlsAvailable(): boolean {
    return this.o.tls !== null;
  }

  get tlsActive(): boolean {
    return this.core.tlsActive;
  }

  /** USER/PASS and AUTH may be used now. */
  get authAllowed(): boolean {
    return this.core.tlsActive || !this.o.settings.pop3.authRequiresTls;
  }

  async run(): Promise<void> {
    const { pop3 } = this.o.settings;
    this.core.armTimers(pop3.idleTimeoutSeconds * 1000, pop3.sessionTimeoutSeconds * 1000);
    try {
      this.log.info("connect", { remote: `${this.remote.address}:${this.remote.port}` });
      await this.send(okLine(`${this.o.settings.hostname} POP3 Mailyard ready`));
      await this.loop();
      if (this.core.pendingShutdown && !this.core.terminated)
        await this.send(FAREWELL["server shutting down"]);
    } finally {
      await this.finish();
    }
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
  send(data: string | Buffer): Promise<void> {
    return this.core.output.write(data);
  }

  /** End the session after this command (QUIT, too many errors). */
  end(): void {
    this.core.closing = true;
  }

  /** A line from the client (commands, SASL responses); null when it went away. */
  async readLine(): Promise<{ readonly text: string } | "tooLong" | null> {
    const l = await this.core.input.readLine();
    if (l === null) return null;
    return l.kind === "tooLong" ? "tooLong" : { text: l.text.toString("utf8") };
  }

  /** A dot-terminated, dot-stuffed message (XTND XMIT), bounded by the limits. */
  async readData(limits: Omit<DataLimits, "content">): Promise<DataResult> {
    // XMIT labels the message by what it holds (xmit.ts), so any content is taken here.
    const dec = new DataDecoder({ ...limits, content: { eightBit: true, nul: true } });
    const parts: Buffer[] = [];
    const complete = await this.core.input.readDotted(dec, (data) => {
      if (dec.error === null && data.length > 0) parts.push(Buffer.from(data));
    });
    if (!complete) return null;
    if (dec.error !== null) return { error: dec.error };
    return { data: Buffer.concat(parts) };
  }

  /** STLS: "+OK", then the TLS handshake; false when it failed (the session is then over). */
  async startTls(): Promise<boolean> {
    const context = this.o.tls;
    if (context === null) return false;
    // RFC 2595 §4 / CVE-2011-0411: anything sent before the handshake is not a command.
    return this.core.startTls(context, okLine("Begin TLS negotiation"), "STLS");
  }

  // ---- the loop -------------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (!this.core.closing) {
      const line = await this.readLine();
      if (line === null || this.core.closing) return;
      if (line === "tooLong") await this.err("command line too long");
      else await this.dispatch(line.text);
      if (this.errors >= this.o.settings.pop3.maxErrors && !this.core.closing) {
        this.log.problem("too many errors", { errors: this.errors });
        await this.send(errLine("too many errors, closing connection"));
        this.core.closing = true;
      }
    }
  }

  private async dispatch(line: string): Promise<void> {
    const sp = line.indexOf(" ");
    const name = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    // Arguments are separated by single spaces (§3); trailing white space is forgiven.
    const arg = sp < 0 ? "" : line.slice(sp + 1).replace(/\s+$/, "");
    const cmd = this.commands.get(name);
    if (cmd === undefined) {
      if (/^(GET|POST|HEAD|PUT|CONNECT|OPTIONS|DELETE)$/.test(name)) {
        this.log.problem("non-POP3 command", { verb: name });
        await this.send(errLine("this is a POP3 server"));
        this.core.closing = true;
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

  // ---- the end --------------------------------------------------------------------------

  /** Nothing is deleted here: only QUIT from TRANSACTION applies deletions (§6). */
  private async finish(): Promise<void> {
    await this.core.finish(async () => {
      await this.release?.().catch((e: unknown) =>
        this.log.problem("mailbox unlock failed", { error: String(e) }),
      );
      this.release = null;
    });
    this.log.info("disconnect", {
      user: this.account?.address,
      errors: this.errors,
      ms: this.o.clock.now() - this.core.started,
    });
  }
}
