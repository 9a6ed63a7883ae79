// The SMTP listener: accepts TCP connections, applies the total and per-IP connection limits
// (421 4.7.0 at connect, then close), runs one Session per connection, and on close stops
// accepting and ends every session with 421. The per-IP count is by TCP peer address; behind a
// load balancer the PROXY preamble names the real client but the count stays per TCP peer, so
// the balancer's own limit applies there.
import type net from "node:net";
import type { TLSSocket } from "node:tls";
import type { ServerTls } from "../kernel/core.js";
import type { Settings } from "../../config/settings.js";
import type { Log } from "../../log/logger.js";
import type { Metrics } from "../../log/metrics.js";
import { REPLIES, formatReply, type Reply } from "../../proto/reply.js";
import type { Clock } from "../../world/clock.js";
import type { Endpoint, ListenerKind, SmtpHandler } from "../handler.js";
import { sessionListener, type SessionListener } from "../kernel/listener.js";
import { verbRegistry } from "./registry.js";
import { Session } from "./session.js";
import type { Verb } from "./verb.js";

export interface SmtpServerOptions {
  readonly settings: Settings;
  readonly listener: ListenerKind;
  readonly handler: SmtpHandler;
  readonly log: Log;
  readonly clock: Clock;
  readonly metrics: Metrics;
  /** null: no STARTTLS. */
  readonly tls: ServerTls | null;
  /** The cluster member a TLS client's certificate proves (SessionInfo.member). */
  readonly memberOf?: (socket: TLSSocket) => string | null;
  /** TLS before the greeting (submissions, port 465); needs tls. */
  readonly implicitTls?: boolean;
  /** Verbs beyond the core ones (e.g. remote submission, XSUBMIT); they may not replace core verbs. */
  readonly extraVerbs?: readonly Verb[];
  /** Runs before the greeting (PROXY protocol seam); see SessionOptions.preamble. */
  readonly preamble?: (socket: net.Socket) => Promise<Endpoint | null>;
  /** When not null, every new connection is answered this (a 421) and closed: the node takes no mail now. */
  readonly closed?: () => Reply | null;
}

/** close() ends every session with 421. */
export type SmtpServer = SessionListener;

/** Time close() gives sessions to say 421 and flush before their sockets are destroyed. */
const CLOSE_GRACE_MS = 5_000;

export function createSmtpServer(o: SmtpServerOptions): SmtpServer {
  const verbs = verbRegistry(o.extraVerbs ?? []);
  return sessionListener({
    log: o.log,
    listening: { listener: o.implicitTls === true ? "submissions" : o.listener },
    clock: o.clock,
    graceMs: CLOSE_GRACE_MS,
    maxConnections: () => o.settings.smtp.maxConnections,
    maxConnectionsPerIp: () => o.settings.smtp.maxConnectionsPerIp,
    refusal: (limit) =>
      formatReply(limit === "total" ? REPLIES.tooManyConnections : REPLIES.tooManyConnectionsFromIp),
    ...(o.closed !== undefined
      ? {
          closed: () => {
            const r = o.closed?.() ?? null;
            return r === null ? null : formatReply(r);
          },
        }
      : {}),
    start: (socket) =>
      new Session(socket, {
        settings: o.settings,
        listener: o.listener,
        handler: o.handler,
        log: o.log,
        clock: o.clock,
        metrics: o.metrics,
        tls: o.tls,
        ...(o.memberOf !== undefined ? { memberOf: o.memberOf } : {}),
        implicitTls: o.implicitTls === true,
        verbs,
        preamble: o.preamble,
      }),
  });
}
