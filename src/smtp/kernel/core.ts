// The part every line-protocol session shares (SMTP, LMTP, POP3): the socket (which STARTTLS or
// STLS replaces), input with backpressure, buffered output, the idle and total timers, and the
// end of a session. The protocol's own session keeps its command loop and state; it says which
// words end a session for each reason (farewell) and reads through `input`, writes through
// `output`.
//
// Invariants:
// - The idle timeout runs only while the session waits for its client (input, a full send
//   buffer, a TLS handshake), never while a command is running (idle.ts).
// - shutdown() ends a waiting session at once; one that is running a command is ended when the
//   command is done (pendingShutdown, for the protocol loop) or when it next waits (interrupted).
// - terminate() says its farewell and closes whatever the session is doing; during a TLS
//   handshake it destroys the socket instead (plain text there would be garbage to the client).
// - A socket whose peer never closes its side is destroyed LINGER_MS after the session ended.
import type { Socket } from "node:net";
import { TLSSocket, type SecureContext } from "node:tls";
import type { Log } from "../../log/logger.js";
import type { Clock, TimerHandle } from "../../world/clock.js";
import { IdleClock } from "./idle.js";
import { LineInput } from "./input.js";
import { SessionOutput } from "./output.js";

/** How long an ended session's socket may linger to flush its last words. */
const LINGER_MS = 10_000;

export type EndReason = "idle timeout" | "session timeout" | "server shutting down";

let lastSessionId = 0;
/** 6-digit session ids, unique within the process (all protocols) until they wrap after 999999. */
export function nextSessionId(): number {
  lastSessionId = lastSessionId >= 999_999 ? 1 : lastSessionId + 1;
  return lastSessionId;
}

export interface CoreOptions {
  readonly clock: Clock;
  /** Longest command line, CRLF included. */
  readonly maxLine: number;
  /** The session's log (it may change, e.g. when a PROXY preamble names the real client). */
  log(): Log;
  /** The client's address, for the log line of a terminated session. */
  remote(): string;
  /** The text that ends the session for this reason (a 421 reply, a POP3 -ERR line). */
  farewell(reason: EndReason): string;
}

export class SessionCore {
  readonly id = nextSessionId();
  readonly started: number;
  readonly idle: IdleClock;
  readonly output: SessionOutput;
  readonly input: LineInput;
  /** No more commands: the loop ends after the one running. */
  closing = false;
  /** shutdown() came while a command was running: the protocol says goodbye once it is done. */
  pendingShutdown = false;
  /** terminate() has said the last words. */
  terminated = false;
  private sock: Socket;
  private tlsOn = false;
  private handshaking = false;
  private lingering = false;
  private timers: TimerHandle[] = [];
  private readonly socketClosed: Promise<void>;

  constructor(
    socket: Socket,
    private readonly o: CoreOptions,
  ) {
    this.sock = socket;
    this.started = o.clock.now();
    this.idle = new IdleClock(o.clock, this.started);
    // The core itself is what input and output ask for the current socket: no closures per session.
    this.output = new SessionOutput(this, this.idle);
    this.input = new LineInput(o.maxLine, this, this.output, this.idle);
    this.socketClosed = new Promise((resolve) => socket.once("close", () => resolve()));
    this.watch(socket);
  }

  /** The current socket. */
  get socket(): Socket {
    return this.sock;
  }

  get tlsActive(): boolean {
    return this.tlsOn;
  }

  /** Start taking the client's input (SMTP waits until its preamble has been read). */
  startReading(): void {
    this.sock.on("data", this.input.onData);
  }

  /** The idle timeout (while waiting for the client) and the total one; 0 disables either. */
  armTimers(idleMs: number, sessionMs: number): void {
    const clock = this.o.clock;
    if (idleMs > 0) {
      const check = (): void => {
        if (this.input.eof) return;
        const idle = clock.now() - this.idle.since;
        if (this.idle.waiting && idle >= idleMs) this.terminate("idle timeout");
        else this.timers.push(clock.setTimeout(check, this.idle.waiting ? idleMs - idle : idleMs));
      };
      this.timers.push(clock.setTimeout(check, idleMs));
    }
    if (sessionMs > 0) {
      this.timers.push(
        clock.setTimeout(() => {
          if (!this.input.eof) this.terminate("session timeout");
        }, sessionMs),
      );
    }
  }

  /** The server is shutting down: the farewell now if waiting for the client, else after this command. */
  shutdown(): void {
    if (this.closing) return;
    if (this.idle.waiting) this.terminate("server shutting down");
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

  /**
   * Write `ready` (the protocol's go-ahead) and run the TLS handshake as the server; false when
   * it failed (the session is then closing). Queued output is written first; whatever the client
   * sent after the command is dropped (CVE-2011-0411, RFC 3207 §4.2, RFC 2595 §4).
   */
  async startTls(context: SecureContext, ready: string, command: string): Promise<boolean> {
    await this.output.flush();
    if (this.input.eof) return false;
    const raw = this.sock;
    const dropped = this.input.detach(raw);
    if (dropped > 0) this.o.log().problem(`discarded input pipelined after ${command}`, { bytes: dropped });
    // Written and wrapped in one tick: the client's ClientHello can only come after `ready`.
    raw.write(ready);
    if (!(await this.handshake(context))) return false;
    this.sock.on("data", this.input.onData);
    return true;
  }

  /**
   * Implicit TLS (RFC 8314, port 465): the handshake before the protocol says anything, and
   * before startReading(); false when it failed (the session is then closing). Bytes a PROXY
   * preamble put back into the socket are the ClientHello's first bytes: TLSSocket reads a
   * wrapped socket's buffered data before its handle, so they are not lost.
   */
  acceptTls(context: SecureContext): Promise<boolean> {
    return this.handshake(context);
  }

  /** Wrap the current socket as a TLS server and wait for the handshake (bounded by the idle timer). */
  private async handshake(context: SecureContext): Promise<boolean> {
    const secure = new TLSSocket(this.sock, { isServer: true, secureContext: context });
    this.sock = secure;
    this.watch(secure);
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
    const log = this.o.log();
    if (!ok || this.input.eof) {
      log.problem("TLS handshake failed");
      this.closing = true;
      // No read is outstanding during a command: this only marks the input as ended.
      this.input.onEnd();
      return false;
    }
    this.tlsOn = true;
    log.info("TLS established", { protocol: secure.getProtocol() ?? "", cipher: secure.getCipher().name });
    return true;
  }

  /** A shutdown that came during a command ends the session before it waits for the client. */
  interrupted(): boolean {
    if (!this.pendingShutdown) return false;
    this.terminate("server shutting down");
    return true;
  }

  /** Say the farewell and close now, whatever the session is doing (timeouts, shutdown). */
  terminate(why: EndReason): void {
    this.o.log().problem(why, { remote: this.o.remote() });
    const text = this.output.take() + this.o.farewell(why);
    this.closing = true;
    this.terminated = true;
    if (this.handshaking) this.sock.destroy();
    else if (!this.sock.destroyed && this.sock.writable) this.sock.end(text);
    this.lingerThenDestroy();
    this.input.onEnd();
  }

  /**
   * The end of every session: timers off, `cleanup` (the protocol's own: abort a transaction,
   * unlock a mailbox), queued output written, the socket ended.
   */
  async finish(cleanup?: () => Promise<void>): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.closing = true;
    await cleanup?.();
    await this.output.flush();
    if (!this.sock.destroyed) {
      this.sock.end();
      this.lingerThenDestroy();
    }
  }

  /** A client that never closes its side is cut off after a while (idempotent). */
  private lingerThenDestroy(): void {
    if (this.lingering || this.sock.destroyed) return;
    this.lingering = true;
    const sock = this.sock;
    const t = this.o.clock.setTimeout(() => sock.destroy(), LINGER_MS);
    sock.once("close", () => t.cancel());
  }

  private watch(sock: Socket): void {
    sock.on("error", this.onError);
    sock.on("end", this.input.onEnd);
    sock.on("close", this.input.onEnd);
  }

  private readonly onError = (e: Error): void => {
    this.o.log().low("socket error", { error: e.message });
    this.input.onEnd();
  };
}

/** What a listener asks of a session built on a core: end it (shutdown, destroy), wait for it. */
export abstract class CoreSession {
  protected abstract readonly core: SessionCore;

  /** The server is shutting down: the farewell now if waiting for the client, else after this command. */
  shutdown(): void {
    this.core.shutdown();
  }

  /** Drop the connection now (last resort at server close). */
  destroy(): void {
    this.core.destroy();
  }

  /** Resolves when the socket is closed. */
  closed(): Promise<void> {
    return this.core.closed();
  }
}
