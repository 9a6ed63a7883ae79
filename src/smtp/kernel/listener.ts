// Accepting connections for a line-protocol server (SMTP, LMTP, POP3): the total and per-address
// connection limits (the protocol's refusal is written and the socket closed; its input is read
// and dropped so the peer's close is noticed), one tracked session per connection, listening on
// one or more addresses, and a graceful close. The per-address count is by TCP peer address.
import net from "node:net";
import type { Log } from "../../log/logger.js";
import type { Clock } from "../../world/clock.js";
import { closeGracefully } from "./graceful-close.js";
import { listenOn, type Bound } from "./listen.js";
import { runTracked, type TrackedSession } from "./tracked-session.js";

export interface ListenerOptions<S> {
  readonly log: Log;
  readonly clock: Clock;
  /** Time close() gives sessions to say goodbye and flush before their sockets are destroyed. */
  readonly graceMs: number;
  readonly maxConnections: () => number;
  /** null: no per-address limit. */
  readonly maxConnectionsPerIp: () => number | null;
  /** What a connection over a limit is told before it is closed. */
  readonly refusal: (limit: "total" | "perIp") => string;
  /**
   * When not null, what every new connection is told before it is closed instead of a session
   * (a draining node: the balancer's check fails and clients go elsewhere). Read per connection.
   */
  readonly closed?: () => string | null;
  readonly start: (socket: net.Socket) => S;
  /** Fields of the "listening" log line (e.g. which listener). */
  readonly listening?: Record<string, unknown>;
}

export interface SessionListener {
  /** Listen on one more address; resolves with the bound one (port 0 picks a free port). */
  listen(host: string, port: number): Promise<Bound>;
  /** Stop accepting, end every session, resolve when all connections are closed. */
  close(): Promise<void>;
  /** Sessions running now. */
  readonly sessions: number;
}

export function sessionListener<S extends TrackedSession & { shutdown(): void }>(
  o: ListenerOptions<S>,
): SessionListener {
  const sessions = new Set<S>();
  const perIp = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const servers: net.Server[] = [];
  const log = o.log;

  const refuse = (socket: net.Socket, limit: "total" | "perIp"): void => {
    log.problem(limit === "total" ? "too many connections" : "too many connections from one address", {
      remote: socket.remoteAddress ?? "",
    });
    say(socket, o.refusal(limit));
  };

  const say = (socket: net.Socket, text: string): void => {
    socket.on("error", () => undefined);
    socket.resume();
    socket.end(text);
  };

  const accept = (socket: net.Socket): void => {
    const ip = socket.remoteAddress ?? "";
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const closed = o.closed?.() ?? null;
    if (closed !== null) return say(socket, closed);
    if (sessions.size >= o.maxConnections()) return refuse(socket, "total");
    const perIpLimit = o.maxConnectionsPerIp();
    if (perIpLimit === null) return runTracked(o.start(socket), { sessions, log });
    const fromIp = perIp.get(ip) ?? 0;
    if (fromIp >= perIpLimit) return refuse(socket, "perIp");
    perIp.set(ip, fromIp + 1);
    runTracked(o.start(socket), { sessions, perIp, ip, log });
  };

  return {
    get sessions() {
      return sessions.size;
    },
    async listen(host, port) {
      // No Nagle: replies are already gathered into one write per flush, and a pipelining client
      // (BDAT after MAIL/RCPT) would otherwise see the next reply held back until its delayed ACK.
      const server = net.createServer({ noDelay: true }, accept);
      server.on("error", (e) => log.failure("listener error", { error: e.message }));
      servers.push(server);
      const bound = await listenOn(server, host, port);
      log.major("listening", { ...o.listening, address: `${bound.address}:${bound.port}` });
      return bound;
    },
    async close() {
      await Promise.all(
        servers.map((server, i) =>
          closeGracefully({
            server,
            // Every session is asked to end by the first; the others only stop accepting.
            sessions: i === 0 ? sessions : [],
            sockets: i === 0 ? sockets : new Set(),
            clock: o.clock,
            graceMs: o.graceMs,
          }),
        ),
      );
    },
  };
}
