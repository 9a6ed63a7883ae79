// The SMTP listener: accepts TCP connections, applies the total and per-IP connection limits
// (421 4.7.0 at connect, then close), runs one Session per connection, and on close stops
// accepting and ends every session with 421. The per-IP count is by TCP peer address; behind a
// load balancer the PROXY preamble (smtp.proxyProtocolFrom) names the real client but the count stays per
// TCP peer, so the balancer's own limit applies there.
import { runTracked } from "./tracked-session.js";
import { listenOn } from "./listen.js";
import net from "node:net";
import type { SecureContext } from "node:tls";
import type { Settings } from "../../config/settings.js";
import type { Log } from "../../log/logger.js";
import type { Metrics } from "../../log/metrics.js";
import { REPLIES, formatReply } from "../../proto/reply.js";
import type { Clock } from "../../world/clock.js";
import type { Endpoint, ListenerKind, SmtpHandler } from "../handler.js";
import { verbRegistry } from "./registry.js";
import { Session } from "./session.js";
import type { Verb } from "./verb.js";
import { closeGracefully } from "./graceful-close.js";

export interface SmtpServerOptions {
  readonly settings: Settings;
  readonly listener: ListenerKind;
  readonly handler: SmtpHandler;
  readonly log: Log;
  readonly clock: Clock;
  readonly metrics: Metrics;
  /** null: no STARTTLS. */
  readonly tls: SecureContext | null;
  /** Verbs beyond the core ones (e.g. remote submission, XSUBMIT); they may not replace core verbs. */
  readonly extraVerbs?: readonly Verb[];
  /** Runs before the greeting (PROXY protocol seam); see SessionOptions.preamble. */
  readonly preamble?: (socket: net.Socket) => Promise<Endpoint | null>;
}

export interface SmtpServer {
  listen(host: string, port: number): Promise<{ address: string; port: number }>;
  /** Stop accepting, end every session with 421, resolve when all connections are closed. */
  close(): Promise<void>;
  /** Sessions running now. */
  readonly sessions: number;
}

/** Time close() gives sessions to say 421 and flush before their sockets are destroyed. */
const CLOSE_GRACE_MS = 5_000;

export function createSmtpServer(o: SmtpServerOptions): SmtpServer {
  const verbs = verbRegistry(o.extraVerbs ?? []);
  const sessions = new Set<Session>();
  const perIp = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const log = o.log;

  const refuse = (socket: net.Socket, why: string, text: string): void => {
    log.problem(why, { remote: socket.remoteAddress ?? "" });
    socket.on("error", () => undefined);
    socket.end(text);
  };

  // No Nagle: replies are already gathered into one write per flush, and a pipelining client
  // (BDAT after MAIL/RCPT) would otherwise see the next reply held back until its delayed ACK.
  const server = net.createServer({ noDelay: true }, (socket) => {
    const ip = socket.remoteAddress ?? "";
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    if (sessions.size >= o.settings.smtp.maxConnections) {
      refuse(socket, "too many connections", formatReply(REPLIES.tooManyConnections));
      return;
    }
    const fromIp = perIp.get(ip) ?? 0;
    if (fromIp >= o.settings.smtp.maxConnectionsPerIp) {
      refuse(socket, "too many connections from one address", formatReply(REPLIES.tooManyConnectionsFromIp));
      return;
    }
    perIp.set(ip, fromIp + 1);
    const session = new Session(socket, {
      settings: o.settings,
      listener: o.listener,
      handler: o.handler,
      log,
      clock: o.clock,
      metrics: o.metrics,
      tls: o.tls,
      verbs,
      preamble: o.preamble,
    });
    runTracked(session, { sessions, perIp, ip, log });
  });
  server.on("error", (e) => log.failure("listener error", { error: e.message }));

  return {
    get sessions() {
      return sessions.size;
    },
    async listen(host, port) {
      const bound = await listenOn(server, host, port);
      log.major("listening", { listener: o.listener, address: `${bound.address}:${bound.port}` });
      return bound;
    },
    close: () => closeGracefully({ server, sessions, sockets, clock: o.clock, graceMs: CLOSE_GRACE_MS }),
  };
}
