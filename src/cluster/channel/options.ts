// What the delivery channel's server needs: who may talk (the cluster secret), what to ask at
// RCPT and what to do with a message, and the bounds on an untrusted peer.
import type { Log } from "../../log/logger.js";
import type { MemberTls } from "../tls/member-tls.js";
import type { Outcome } from "../../proto/outcome.js";
import type { Reply } from "../../proto/reply.js";
import type { DeliveryJob } from "../../queue/types.js";
import type { Clock } from "../../world/clock.js";
import type { Random } from "../../world/random.js";

export interface ChannelLimits {
  /** Longest command line, in bytes including CRLF. */
  readonly maxCommandLine: number;
  /** Longest message line, in wire bytes including CRLF (default: only the size limit applies). */
  readonly maxDataLine: number;
  readonly maxRecipients: number;
  /** Protocol errors tolerated from a peer that has not authenticated before the session is closed with 421. */
  readonly maxErrors: number;
  readonly maxConnections: number;
  /** The header section's limits (proto/header-limit.ts); default: none. */
  readonly maxHeaderBytes: number;
  readonly maxHeaderFields: number;
}

export interface ChannelTimeouts {
  /** A session waiting this long for its peer is closed with 421 4.4.2 (0: never). */
  readonly idleMs: number;
}

export interface ChannelServerOptions {
  /** The cluster secret; null (tests only) lets any peer in without AUTH. */
  readonly secret: string | null;
  /** Name in the greeting and LHLO reply. */
  readonly hostname: string;
  /** Tag DELIVERY. */
  readonly log: Log;
  readonly clock: Clock;
  /**
   * Asked at RCPT whether this backend takes the recipient: null accepts, a Reply refuses
   * (e.g. 550 5.1.1 unknown user, 450 4.x not the owner here). A rejection becomes 451 4.3.0.
   */
  admit(address: string): Promise<Reply | null>;
  /** Stores the message for the accepted recipients: one outcome per job recipient, in order. */
  deliver(job: DeliveryJob): Promise<Outcome[]>;
  readonly maxMessageSize: number;
  readonly timeouts: ChannelTimeouts;
  readonly limits?: Partial<ChannelLimits>;
  /** For the ids of received messages (default: crypto). */
  readonly random?: Random;
  /**
   * Cluster TLS: the listener speaks TLS from the first byte, a peer without a member
   * certificate from the CA fails the handshake, and AUTH must name the certificate's node.
   */
  readonly memberTls?: MemberTls | null;
}

export function channelLimits(o: ChannelServerOptions): ChannelLimits {
  return {
    maxCommandLine: 2048,
    maxDataLine: Number.MAX_SAFE_INTEGER,
    maxRecipients: 1000,
    maxErrors: 10,
    maxConnections: 500,
    maxHeaderBytes: Number.MAX_SAFE_INTEGER,
    maxHeaderFields: Number.MAX_SAFE_INTEGER,
    ...o.limits,
  };
}
