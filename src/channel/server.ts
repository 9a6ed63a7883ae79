// The delivery channel's listener on a backend: authenticated LMTP (RFC 2033) from the other
// cluster members. A member that cannot open an account sends the message here; this backend
// admits each recipient (admit), stores the message (deliver: the local mailbox channel, which
// fsyncs before it answers) and replies once per accepted recipient. Nothing is enqueued here:
// a temporary answer leaves the recipient in the sender's queue.
//
// Connections over limits.maxConnections get 421 at once. close() stops accepting, ends every
// session with 421 (a session storing a message finishes that first) and resolves when all
// sockets are closed.
import { REPLIES, formatReply } from "../proto/reply.js";
import { createIdGenerator } from "../queue/ids.js";
import { sessionListener } from "../smtp/kernel/listener.js";
import { cryptoRandom } from "../world/random.js";
import { channelLimits, type ChannelServerOptions } from "./options.js";
import { ChannelSession } from "./session.js";

export type { ChannelLimits, ChannelServerOptions, ChannelTimeouts } from "./options.js";

export interface ChannelServer {
  /** Start listening; resolves with the bound address (port 0 picks a free port). */
  listen(host: string, port: number): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  /** Sessions running now. */
  readonly sessions: number;
}

/** Time close() gives sessions to say 421 (and finish a delivery) before sockets are cut. */
const CLOSE_GRACE_MS = 10_000;

export function createChannelServer(o: ChannelServerOptions): ChannelServer {
  const limits = channelLimits(o);
  const log = o.log;
  const newId = createIdGenerator(o.clock, o.random ?? cryptoRandom);
  const server = sessionListener({
    log,
    clock: o.clock,
    graceMs: CLOSE_GRACE_MS,
    maxConnections: () => limits.maxConnections,
    maxConnectionsPerIp: () => null,
    refusal: () => formatReply(REPLIES.tooManyConnections),
    start: (socket) => new ChannelSession(socket, { options: o, limits, log, newId }),
  });
  return {
    get sessions() {
      return server.sessions;
    },
    listen: (host, port) => server.listen(host, port, { auth: o.secret !== null }),
    close: () => server.close(),
  };
}
