// One delivery-channel connection on the receiving backend: greeting with a fresh nonce, then
// commands one at a time (pipelined input is read in order; replies go out together when the
// input is drained, RFC 2920). Input, output, the idle timer and the end of the session are the
// session kernel's (src/smtp/kernel): the idle timeout runs only while the session waits for its
// peer, never while a delivery is being stored. Everything read is untrusted and bounded
// (command line, message size, recipients, errors).
import type { Socket } from "node:net";
import { nonce } from "../cluster/secret.js";
import type { Log } from "../log/logger.js";
import { DataDecoder } from "../proto/dataframe.js";
import { REPLIES, formatReply, reply, type Reply } from "../proto/reply.js";
import { SessionCore } from "../smtp/kernel/core.js";
import { greetingText } from "./auth.js";
import { CHANNEL_CONTENT } from "./carries.js";
import type { ChannelLimits, ChannelServerOptions } from "./options.js";
import { COMMANDS, type ChannelState, type ChannelTx, type ReceivedData } from "./verbs.js";

export interface SessionDeps {
  readonly options: ChannelServerOptions;
  readonly limits: ChannelLimits;
  readonly log: Log;
  readonly newId: () => string;
}

export class ChannelSession implements ChannelState {
  readonly secret: string | null;
  readonly hostname: string;
  readonly nonce = nonce();
  readonly limits: ChannelLimits;
  readonly maxMessageSize: number;
  readonly log: Log;
  lhlo: string | null = null;
  node: string | null;
  tx: ChannelTx | null = null;

  private readonly o: ChannelServerOptions;
  private readonly core: SessionCore;
  private readonly remote: { address: string; port: number };
  private errors = 0;
  private messages = 0;

  constructor(
    sock: Socket,
    private readonly deps: SessionDeps,
  ) {
    this.o = deps.options;
    this.secret = this.o.secret;
    this.hostname = this.o.hostname;
    this.limits = deps.limits;
    this.maxMessageSize = this.o.maxMessageSize;
    // Without a secret (tests only) every peer counts as authenticated.
    this.node = this.secret === null ? "" : null;
    this.remote = { address: sock.remoteAddress ?? "", port: sock.remotePort ?? 0 };
    this.core = new SessionCore(sock, {
      clock: this.o.clock,
      maxLine: this.limits.maxCommandLine,
      log: () => this.log,
      remote: () => this.remote.address,
      farewell: (why) =>
        formatReply(why === "idle timeout" ? REPLIES.idleTimeout : REPLIES.serviceUnavailable),
    });
    this.log = deps.log.with(this.core.id, this.remote.address);
    this.core.startReading();
  }

  async run(): Promise<void> {
    this.core.armTimers(this.o.timeouts.idleMs, 0);
    try {
      this.log.info("connect", { remote: `${this.remote.address}:${this.remote.port}` });
      if (this.core.closing) {
        this.reply(REPLIES.serviceUnavailable);
        return;
      }
      this.reply(reply(220, null, greetingText(this.hostname, this.nonce)));
      await this.loop();
    } finally {
      await this.finish();
    }
  }

  /** The server is closing: 421 now when waiting for the peer, else after the command running. */
  shutdown(): void {
    this.core.shutdown();
  }

  destroy(): void {
    this.core.destroy();
  }

  closed(): Promise<void> {
    return this.core.closed();
  }

  // ---- ChannelState --------------------------------------------------------------------------

  reply(r: Reply): void {
    this.core.output.add(formatReply(r));
  }

  error(r: Reply): void {
    // Only a peer that has not authenticated is cut off for errors: an authenticated member's
    // pooled session sees pipelined 503s after every refused MAIL, and must not wear out.
    if (this.node === null) this.errors++;
    this.reply(r);
  }

  quit(r: Reply): void {
    this.reply(r);
    this.core.closing = true;
  }

  /**
   * The message text up to CRLF.CRLF, unstuffed; an error once the whole text has been read when
   * it broke a rule (the session stays in step with the peer); null when the peer went away.
   */
  async receiveData(): Promise<ReceivedData | null> {
    const dec = new DataDecoder({
      maxBytes: this.maxMessageSize,
      maxLine: this.limits.maxDataLine,
      content: CHANNEL_CONTENT,
    });
    const parts: Buffer[] = [];
    // The decoder hands out nothing after an error, and nothing past the size limit.
    const complete = await this.core.input.readDotted(dec, (data) => {
      if (dec.error === null && data.length > 0) parts.push(data);
    });
    if (!complete) return null;
    if (dec.error !== null) return { ok: false, error: dec.error };
    return { ok: true, message: Buffer.concat(parts) };
  }

  client(): { address: string; port: number; helo: string | null; tls: boolean } {
    return { ...this.remote, helo: this.lhlo, tls: false };
  }

  newId(): string {
    this.messages++;
    return this.deps.newId();
  }

  now(): number {
    return this.o.clock.now();
  }

  admit(address: string): Promise<Reply | null> {
    return this.o.admit(address);
  }

  deliver: ChannelState["deliver"] = (job) => this.o.deliver(job);

  // ---- the command loop ----------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (!this.core.closing) {
      const line = await this.core.input.readLine();
      if (line === null || this.core.closing) return;
      if (line.kind === "tooLong") this.error(REPLIES.lineTooLong);
      else await this.dispatch(line.text);
      if (this.errors >= this.limits.maxErrors && !this.core.closing) {
        this.log.problem("too many errors", { errors: this.errors });
        this.quit(REPLIES.tooManyErrors);
      }
      if (this.core.pendingShutdown) this.quit(REPLIES.serviceUnavailable);
    }
  }

  private async dispatch(text: Buffer): Promise<void> {
    const line = text.toString("utf8");
    // Invalid UTF-8 (not a U+FFFD the peer really sent) is not a command.
    if (line.includes("\uFFFD") && !text.includes("\xef\xbf\xbd", 0, "latin1"))
      return this.error(REPLIES.syntaxError);
    const sp = line.indexOf(" ");
    const name = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    const arg = sp < 0 ? "" : line.slice(sp + 1).trim();
    const command = COMMANDS.get(name);
    if (command === undefined) return this.error(REPLIES.syntaxError);
    await command(this, arg);
  }

  // ---- the end ------------------------------------------------------------------------------

  private async finish(): Promise<void> {
    this.tx = null;
    await this.core.finish();
    this.log.info("disconnect", {
      node: this.node,
      messages: this.messages,
      errors: this.errors,
      ms: this.o.clock.now() - this.core.started,
    });
  }
}
