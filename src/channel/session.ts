// One delivery-channel connection on the receiving backend: greeting with a fresh nonce, then
// commands one at a time (pipelined input is read in order; replies go out together when the
// input is drained, RFC 2920). The idle timeout runs only while the session waits for its peer,
// never while a delivery is being stored. Everything read is untrusted and bounded (command
// line, message size, recipients, errors).
import type { Socket } from "node:net";
import { nonce } from "../cluster/secret.js";
import type { Log } from "../log/logger.js";
import { REPLIES, reply, type Reply } from "../proto/reply.js";
import { IdleClock } from "../smtp/server/idle.js";
import { ReplyOutput } from "../smtp/server/output.js";
import type { TimerHandle } from "../world/clock.js";
import { greetingText } from "./auth.js";
import { CHANNEL_CONTENT } from "./carries.js";
import { ChannelInput, type ReceivedData } from "./input.js";
import type { ChannelLimits, ChannelServerOptions } from "./options.js";
import { COMMANDS, type ChannelState, type ChannelTx } from "./verbs.js";

/** How long a finished session's socket may linger to flush its last reply. */
const LINGER_MS = 10_000;

export interface SessionDeps {
  readonly options: ChannelServerOptions;
  readonly limits: ChannelLimits;
  readonly log: Log;
  readonly newId: () => string;
}

let lastSessionId = 0;
const nextSessionId = (): number => (lastSessionId = lastSessionId >= 999_999 ? 1 : lastSessionId + 1);

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
  private readonly idle: IdleClock;
  private readonly output: ReplyOutput;
  private readonly input: ChannelInput;
  private readonly started: number;
  private readonly remote: { address: string; port: number };
  private closing = false;
  private pendingShutdown = false;
  private lingering = false;
  private errors = 0;
  private messages = 0;
  private timer: TimerHandle | null = null;
  private readonly socketClosed: Promise<void>;

  constructor(
    private readonly sock: Socket,
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
    this.log = deps.log.with(nextSessionId(), this.remote.address);
    this.started = this.o.clock.now();
    this.idle = new IdleClock(this.o.clock, this.started);
    this.output = new ReplyOutput(() => sock, this.idle);
    this.input = new ChannelInput(sock, this.limits.maxCommandLine, this.output, this.idle, () =>
      this.interrupted(),
    );
    this.socketClosed = new Promise((resolve) => sock.once("close", () => resolve()));
    sock.setNoDelay(true);
    sock.on("error", (e: Error) => {
      this.log.low("socket error", { error: e.message });
      this.input.onEnd();
    });
    sock.on("end", this.input.onEnd);
    sock.on("close", this.input.onEnd);
    sock.on("data", this.input.onData);
  }

  async run(): Promise<void> {
    this.armIdleTimer();
    try {
      this.log.info("connect", { remote: `${this.remote.address}:${this.remote.port}` });
      if (this.closing) {
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
    if (this.closing) return;
    if (this.idle.waiting) this.terminate(REPLIES.serviceUnavailable, "server shutting down");
    else {
      this.closing = true;
      this.pendingShutdown = true;
    }
  }

  destroy(): void {
    this.sock.destroy();
  }

  closed(): Promise<void> {
    return this.socketClosed;
  }

  // ---- ChannelState --------------------------------------------------------------------------

  reply(r: Reply): void {
    this.output.add(r);
  }

  error(r: Reply): void {
    // Only a peer that has not authenticated is cut off for errors: an authenticated member's
    // pooled session sees pipelined 503s after every refused MAIL, and must not wear out.
    if (this.node === null) this.errors++;
    this.output.add(r);
  }

  quit(r: Reply): void {
    this.output.add(r);
    this.closing = true;
  }

  receiveData(): Promise<ReceivedData | null> {
    return this.input.readData({
      maxBytes: this.maxMessageSize,
      maxLine: this.limits.maxDataLine,
      content: CHANNEL_CONTENT,
      header: this.limits,
    });
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
    while (!this.closing) {
      const line = await this.input.readLine();
      if (line === null || this.closing) return;
      if (line.kind === "tooLong") this.error(REPLIES.lineTooLong);
      else await this.dispatch(line.text);
      if (this.errors >= this.limits.maxErrors && !this.closing) {
        this.log.problem("too many errors", { errors: this.errors });
        this.quit(REPLIES.tooManyErrors);
      }
      if (this.pendingShutdown) this.quit(REPLIES.serviceUnavailable);
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

  /** Shutdown that came during a command ends the session before it waits for the peer. */
  private interrupted(): boolean {
    if (!this.pendingShutdown) return false;
    this.terminate(REPLIES.serviceUnavailable, "server shutting down");
    return true;
  }

  // ---- timers and the end --------------------------------------------------------------------

  private armIdleTimer(): void {
    const idleMs = this.o.timeouts.idleMs;
    if (idleMs <= 0) return;
    const clock = this.o.clock;
    const check = (): void => {
      if (this.input.eof) return;
      const idle = clock.now() - this.idle.since;
      if (this.idle.waiting && idle >= idleMs) this.terminate(REPLIES.idleTimeout, "idle timeout");
      else this.timer = clock.setTimeout(check, this.idle.waiting ? idleMs - idle : idleMs);
    };
    this.timer = clock.setTimeout(check, idleMs);
  }

  /** Say r and close now, whatever the session is doing. */
  private terminate(r: Reply, why: string): void {
    this.log.problem(why, { remote: this.remote.address });
    this.output.add(r);
    this.closing = true;
    const text = this.output.take();
    if (!this.sock.destroyed && this.sock.writable) this.sock.end(text);
    this.lingerThenDestroy();
    this.input.onEnd();
  }

  private lingerThenDestroy(): void {
    if (this.lingering || this.sock.destroyed) return;
    this.lingering = true;
    const sock = this.sock;
    const t = this.o.clock.setTimeout(() => sock.destroy(), LINGER_MS);
    sock.once("close", () => t.cancel());
  }

  private async finish(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    this.closing = true;
    this.tx = null;
    await this.output.flush();
    if (!this.sock.destroyed) {
      this.sock.end();
      this.lingerThenDestroy();
    }
    this.log.info("disconnect", {
      node: this.node,
      messages: this.messages,
      errors: this.errors,
      ms: this.o.clock.now() - this.started,
    });
  }
}
