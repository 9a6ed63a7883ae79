// An LMTP listener (RFC 2033): the SMTP session on the LMTP verb set, on the session kernel's
// listener. Connections over maxConnections get 421 at once; close() stops accepting, ends every
// session with 421 (a session storing a message finishes that first) and resolves when all
// sockets are closed. What the peer must prove, and what happens to the message, is the
// handler's and the extra verbs' (the cluster's delivery channel brings its own AUTH).
import type { TLSSocket } from "node:tls";
import type { Settings } from "../../../config/settings.js";
import type { ServerTls } from "../../kernel/core.js";
import type { Log } from "../../../log/logger.js";
import type { ContentRules } from "../../../proto/dataframe.js";
import { REPLIES, formatReply, type Reply } from "../../../proto/reply.js";
import type { Clock } from "../../../world/clock.js";
import { sessionListener, type SessionListener } from "../../kernel/listener.js";
import { verbRegistry } from "../registry.js";
import { Session } from "../session.js";
import type { SessionApi, Verb } from "../verb.js";
import type { LmtpHandler } from "./handler.js";
import { lmtpVerbs } from "./verbs.js";

export interface LmtpServerOptions {
  /** The listener's settings: hostname and the smtp.* limits and timeouts its sessions keep. */
  readonly settings: Settings;
  readonly handler: LmtpHandler;
  readonly log: Log;
  readonly clock: Clock;
  readonly maxConnections: number;
  readonly content: ContentRules;
  /** MAIL, RCPT and DATA need a successful AUTH first (an extra verb provides it). */
  readonly requireAuth: boolean;
  readonly extraVerbs?: readonly Verb[];
  /** A fresh per-session challenge the greeting may carry (SessionApi.challenge). */
  readonly challenge?: () => string;
  readonly greeting: (s: SessionApi) => Reply;
  /** Time close() gives sessions before sockets are cut. */
  readonly graceMs: number;
  /** Fields of the "listening" log line. */
  readonly listening?: Record<string, unknown>;
  /** TLS from the first byte (the cluster's delivery channel), with the peer's member id. */
  readonly implicitTls?: { readonly tls: ServerTls; readonly memberOf: (socket: TLSSocket) => string | null };
}

export type LmtpServer = SessionListener;

export function createLmtpServer(o: LmtpServerOptions): LmtpServer {
  const verbs = verbRegistry(o.extraVerbs ?? [], lmtpVerbs(o));
  return sessionListener({
    log: o.log,
    listening: o.listening ?? {},
    clock: o.clock,
    graceMs: o.graceMs,
    maxConnections: () => o.maxConnections,
    maxConnectionsPerIp: () => null,
    refusal: () => formatReply(REPLIES.tooManyConnections),
    start: (socket) =>
      new Session(socket, {
        settings: o.settings,
        listener: "smtp",
        protocol: "lmtp",
        handler: o.handler,
        log: o.log,
        clock: o.clock,
        tls: o.implicitTls?.tls ?? null,
        ...(o.implicitTls !== undefined ? { implicitTls: true, memberOf: o.implicitTls.memberOf } : {}),
        verbs,
        greeting: o.greeting,
        challenge: o.challenge?.() ?? null,
        earlyTalker: false,
        // Only a peer that has not authenticated is cut off for errors: an authenticated
        // member's pooled session sees pipelined 503s after every refused MAIL, and must not
        // wear out.
        countsErrors: (s) => o.requireAuth && s.authUser === null,
      }),
  });
}
