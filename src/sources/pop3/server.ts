// The POP3 listener: accepts TCP connections, applies the total and per-address connection
// limits (-ERR [SYS/TEMP] and close), runs one Pop3Session per connection, and on close stops
// accepting and ends every session (nothing deleted: only QUIT applies deletions).
import net from "node:net";
import { errLine } from "../../proto/pop3.js";
import { closeGracefully } from "../../smtp/kernel/graceful-close.js";
import { runTracked } from "../../smtp/kernel/tracked-session.js";
import { listenOn } from "../../smtp/kernel/listen.js";
import type { Pop3Options } from "./options.js";
import { Pop3Session } from "./session.js";

const CLOSE_GRACE_MS = 5_000;

export interface Pop3Server {
  listen(host: string, port: number): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  readonly sessions: number;
}

export function createPop3Server(o: Pop3Options): Pop3Server {
  const sessions = new Set<Pop3Session>();
  const sockets = new Set<net.Socket>();
  const perIp = new Map<string, number>();
  const servers: net.Server[] = [];
  const { log } = o;

  const refuse = (socket: net.Socket, why: string): void => {
    log.problem(why, { remote: socket.remoteAddress ?? "" });
    socket.on("error", () => undefined);
    socket.resume();
    socket.end(errLine("[SYS/TEMP] too many connections, try again later"));
  };

  const accept = (socket: net.Socket): void => {
    const ip = socket.remoteAddress ?? "";
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    if (sessions.size >= o.settings.pop3.maxConnections) return refuse(socket, "too many connections");
    const fromIp = perIp.get(ip) ?? 0;
    if (fromIp >= o.settings.pop3.maxConnectionsPerIp)
      return refuse(socket, "too many connections from one address");
    perIp.set(ip, fromIp + 1);
    const session = new Pop3Session(socket, o);
    runTracked(session, { sessions, perIp, ip, log });
  };

  return {
    get sessions() {
      return sessions.size;
    },
    async listen(host, port) {
      const server = net.createServer({ noDelay: true }, accept);
      server.on("error", (e) => log.failure("listener error", { error: e.message }));
      servers.push(server);
      const bound = await listenOn(server, host, port);
      log.major("listening", { listener: "pop3", address: `${bound.address}:${bound.port}` });
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
            graceMs: CLOSE_GRACE_MS,
          }),
        ),
      );
    },
  };
}
