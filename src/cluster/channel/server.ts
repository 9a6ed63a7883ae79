// The delivery channel's listener on a backend: authenticated LMTP (RFC 2033) from the other
// cluster members, on the SMTP engine's LMTP verb set (src/smtp/server/lmtp) with the cluster's own
// AUTH (auth-verb.ts) and a greeting that carries a fresh nonce (auth.ts). A member that cannot
// open an account sends the message here; this backend admits each recipient, stores the
// message and replies once per accepted recipient (receiver.ts).
//
// Connections over limits.maxConnections get 421 at once. close() stops accepting, ends every
// session with 421 (a session storing a message finishes that first) and resolves when all
// sockets are closed.
import { nonce } from "../secret.js";
import { settingsSchema, type Settings } from "../../config/settings.js";
import { REPLIES } from "../../proto/reply.js";
import { createIdGenerator } from "../../queue/ids.js";
import { createLmtpServer, type LmtpServer } from "../../smtp/server/lmtp/server.js";
import { cryptoRandom } from "../../world/random.js";
import { clusterAuth } from "./auth-verb.js";
import { CHANNEL_CONTENT } from "./carries.js";
import { channelLimits, type ChannelLimits, type ChannelServerOptions } from "./options.js";
import { channelReceiver } from "./receiver.js";

export type { ChannelLimits, ChannelServerOptions, ChannelTimeouts } from "./options.js";

export type ChannelServer = LmtpServer;

/** Time close() gives sessions to say 421 (and finish a delivery) before sockets are cut. */
const CLOSE_GRACE_MS = 10_000;

export function createChannelServer(o: ChannelServerOptions): ChannelServer {
  const limits = channelLimits(o);
  const newId = createIdGenerator(o.clock, o.random ?? cryptoRandom);
  const memberTls = o.memberTls ?? null;
  return createLmtpServer({
    settings: listenerSettings(o, limits),
    handler: channelReceiver(o, newId),
    log: o.log,
    clock: o.clock,
    maxConnections: limits.maxConnections,
    content: CHANNEL_CONTENT,
    // Without a secret (tests only) every peer counts as authenticated.
    requireAuth: o.secret !== null,
    extraVerbs: [clusterAuth(o.secret, memberTls !== null)],
    challenge: nonce,
    greeting: (s) => REPLIES.lmtpGreeting({ host: o.hostname, nonce: s.challenge ?? "" }),
    graceMs: CLOSE_GRACE_MS,
    listening: { auth: o.secret !== null, tls: memberTls !== null },
    ...(memberTls !== null
      ? {
          implicitTls: {
            tls: {
              socketOptions: () => memberTls.serverOptions(),
              accept: (secure) => memberTls.refusal(secure, null),
            },
            memberOf: (socket) => memberTls.peerId(socket),
          },
        }
      : {}),
  });
}

/** The LMTP sessions' settings: the defaults, with this listener's name, limits and timeout. */
function listenerSettings(o: ChannelServerOptions, limits: ChannelLimits): Settings {
  const base = settingsSchema.parse({});
  return {
    ...base,
    hostname: o.hostname,
    smtp: {
      ...base.smtp,
      maxCommandLine: limits.maxCommandLine,
      maxDataLine: limits.maxDataLine,
      maxRecipients: limits.maxRecipients,
      maxErrors: limits.maxErrors,
      maxHeaderBytes: limits.maxHeaderBytes,
      maxHeaderFields: limits.maxHeaderFields,
      maxMessageSize: o.maxMessageSize,
      idleTimeoutSeconds: o.timeouts.idleMs / 1000,
      // The channel has no total session limit: a pooled session lives as long as it is used.
      sessionTimeoutSeconds: 0,
      // Members pipeline (RFC 2920) before and after AUTH.
      forbidUnauthPipelining: false,
    },
  };
}
