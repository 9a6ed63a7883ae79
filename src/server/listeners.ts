// The SMTP and submission listeners of a node (single server or cluster member), and the
// addresses a member advertises to the others. A listener takes the PROXY header from the
// balancers named in smtp.proxyProtocolFrom (none: no header is ever looked for).
import type { SecureContext } from "node:tls";
import type { MemberTls } from "../cluster/tls/member-tls.js";
import { memberStartTls } from "../cluster/tls/smtp-side.js";
import { ConfigError } from "../config/load.js";
import type { Settings } from "../config/settings.js";
import type { LogSink } from "../log/logger.js";
import type { Metrics } from "../log/metrics.js";
import { formatHostPort, parseHostPort } from "../proto/hostport.js";
import type { Reply } from "../proto/reply.js";
import type { SmtpHandler } from "../smtp/handler.js";
import { createSmtpServer, type SmtpServer } from "../smtp/server/listener.js";
import { DEFAULT_PROXY_TIMEOUT_MS, proxyPreamble } from "../smtp/server/proxy-preamble.js";
import type { Clock } from "../world/clock.js";
import type { Verb } from "../smtp/server/verb.js";

export interface Bound {
  readonly address: string;
  readonly port: number;
}

export interface SmtpListeners {
  readonly smtp: readonly Bound[];
  readonly submission: readonly Bound[];
  /** Submission over implicit TLS (RFC 8314): the submission listener's rules, TLS from the first byte. */
  readonly submissions: readonly Bound[];
  close(): Promise<void>;
}

export async function bindSmtpListeners(o: {
  settings: Settings;
  handler: SmtpHandler;
  log: LogSink;
  clock: Clock;
  metrics: Metrics;
  tls: SecureContext | null;
  /**
   * Cluster TLS: STARTTLS on the SMTP listeners also takes members, who ask for the member
   * certificate by SNI and present theirs (remote submit, shadow copies, `*` relaying).
   */
  memberTls?: MemberTls | null;
  /** Verbs added to the SMTP (not submission) listeners: remote submit between members. */
  smtpVerbs?: readonly Verb[];
  /** When not null, what every new connection is answered before it is closed (a draining member). */
  closed?: () => Reply | null;
}): Promise<SmtpListeners> {
  const { settings } = o;
  const servers: SmtpServer[] = [];
  const from = settings.smtp.proxyProtocolFrom;
  const bind = async (
    kind: "smtp" | "submission",
    addrs: readonly string[],
    implicitTls = false,
  ): Promise<Bound[]> => {
    const bound: Bound[] = [];
    for (const a of addrs) {
      const server = createSmtpServer({
        settings,
        listener: kind,
        handler: o.handler,
        log: o.log.for("SMTPI"),
        clock: o.clock,
        metrics: o.metrics,
        ...(kind === "smtp" && o.memberTls != null && o.tls !== null && !implicitTls
          ? memberStartTls(o.tls, o.memberTls)
          : { tls: o.tls }),
        implicitTls,
        ...(o.closed !== undefined ? { closed: o.closed } : {}),
        ...(kind === "smtp" && o.smtpVerbs !== undefined ? { extraVerbs: o.smtpVerbs } : {}),
        ...(from.length > 0
          ? {
              preamble: proxyPreamble({
                from,
                timeoutMs: DEFAULT_PROXY_TIMEOUT_MS,
                log: o.log.for("SMTPI"),
                clock: o.clock,
              }),
            }
          : {}),
      });
      servers.push(server);
      const { host, port } = parseHostPort(a);
      bound.push(await server.listen(host, port));
    }
    return bound;
  };
  const close = (): Promise<void> => Promise.all(servers.map((s) => s.close())).then(() => undefined);
  try {
    const smtp = await bind("smtp", settings.smtp.listen);
    const submission = await bind("submission", settings.submission.listen);
    if (settings.submissions.listen.length > 0 && o.tls === null) {
      throw new ConfigError(
        "submissions.listen needs TLS (smtp.tls): implicit TLS cannot run without a certificate",
      );
    }
    const submissions = await bind("submission", settings.submissions.listen, true);
    return { smtp, submission, submissions, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * host:port the other members use for a bound listener: cluster.advertise when set, else the
 * listener's own address, which only works when it is not a wildcard (0.0.0.0, ::).
 */
export function advertised(settings: Settings, b: Bound): string {
  const host = settings.cluster.advertise.trim() || b.address;
  return formatHostPort({ host, port: b.port });
}
