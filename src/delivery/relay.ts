// The relay channel: delivers a remote route's recipients over SMTP, to the domain's MX hosts
// ("relay:<domain>") or to the configured forwarding hosts ("forward:*"), smarthosts with the
// TLS, certificate and AUTH requirements of smtp.forwardTls and its neighbours
// (relay/smarthost.ts); MX hosts under the domain's TLS policy (relay/tls-policy.ts:
// opportunistic, verify, MTA-STS, DANE). Answers one outcome per recipient and never throws for delivery problems. Idle connections are kept per route for
// smtp.outbound.idleKeepSeconds and reused for up to maxMessagesPerConnection transactions (the
// pooled sessions and the outcome log are the SMTP client's, shared with the delivery channel).
// Everything from DNS and remote servers is untrusted (see relay/targets.ts, smtp/client).
// Not done yet: a loop check (an MX that resolves to one of our own listening addresses) and a
// plaintext retry after a failed TLS handshake (today that host is skipped like a refused one).
import { readForwardFiles } from "../config/forward-files.js";
import type { Settings } from "../config/settings.js";
import type { Log } from "../log/logger.js";
import { bounced, deferred, type Outcome } from "../proto/outcome.js";
import type { Reply } from "../proto/reply.js";
import type { DeliveryJob } from "../queue/types.js";
import {
  PooledSessions,
  capabilityProblem,
  requireTlsProblem,
  sendsChunked,
  clientOptions,
  needsSmtputf8,
  runTransaction,
  transactionInput,
  type AfterTransaction,
  type Attempt,
  type SmtpConnection,
  type TransactionInput,
  type TransactionResult,
} from "../smtp/client/index.js";
import type { Clock } from "../world/clock.js";
import type { Dialer } from "../world/dialer.js";
import type { Resolver } from "../world/resolver.js";
import { connectToTargets } from "./relay/connect.js";
import { headerSectionIsAscii, saysTlsNotRequired } from "./relay/header-ascii.js";
import { transactionOutcomes } from "./relay/outcomes.js";
import { smarthostSecurity } from "./relay/smarthost.js";
import { resolveTargets, type FrontendList } from "./relay/targets.js";
import { createTlsPolicies } from "./relay/tls-policy.js";
import { noTlsReports, type TlsReportSink } from "./relay/tls-report.js";
import { toAsciiDomain } from "../proto/idna.js";
import type { DkimSigner } from "./dkim/sign.js";

export interface RelayChannelOptions {
  readonly settings: Settings;
  readonly resolver: Resolver;
  readonly dialer: Dialer;
  readonly clock: Clock;
  /** Tagged SMTP. */
  readonly log: Log;
  readonly hostname: string;
  /** Live frontends for a "*" in smtp.forwardTo (cluster backends); none elsewhere. */
  readonly frontends?: FrontendList;
  /** DKIM signing (single servers and frontends); absent on backends, whose frontends sign. */
  readonly dkim?: DkimSigner;
  /** Where the TLS policy's results go (/metrics, TLS reports); default nowhere. */
  readonly tlsReports?: TlsReportSink;
}

export interface RelayChannel {
  deliver(job: DeliveryJob): Promise<Outcome[]>;
  /** QUIT idle connections; connections in use close when their delivery ends. */
  close(): Promise<void>;
}

export function createRelayChannel(opts: RelayChannelOptions): RelayChannel {
  const { settings, resolver, dialer, clock, log } = opts;
  const options = clientOptions(settings, opts.hostname);
  // Read here, once: a missing or unsafe login file stops the start (ConfigError).
  const smarthost = smarthostSecurity(settings, readForwardFiles(settings));
  const maxPerConnection = settings.smtp.outbound.maxMessagesPerConnection;
  const reports = opts.tlsReports ?? noTlsReports;
  const policies = createTlsPolicies({ settings, resolver, dialer, clock, log, ca: options.ca, reports });
  /** The domain whose TLS policy applies to a route: relay routes, not literals nor forwarding. */
  const policyDomain = (key: string): string | null => {
    if (!key.startsWith("relay:") || key.startsWith("relay:[")) return null;
    const domain = key.slice("relay:".length);
    return toAsciiDomain(domain) ?? domain;
  };
  /**
   * RFC 8689 §5: `TLS-Required: No` asks to deliver without the recipient domain's policy
   * (MTA-STS, DANE, verify), unless the envelope asks for REQUIRETLS, which wins. Only read
   * where a policy would apply.
   */
  const relaxed = async (domain: string | null, input: TransactionInput): Promise<boolean> =>
    domain !== null &&
    policies.configured(domain) !== "opportunistic" &&
    input.envelope.requireTls !== true &&
    (await saysTlsNotRequired(input.body()));
  const pooled = new PooledSessions({
    clock,
    log,
    idleKeepMs: settings.smtp.outbound.idleKeepSeconds * 1000,
    commandTimeoutMs: options.commandTimeoutMs,
  });

  /** After a transaction: reuse the connection (RSET first if needed), or retire it. */
  const after = (conn: SmtpConnection, res: TransactionResult | null): AfterTransaction => {
    if (conn.transactions >= maxPerConnection || saw421(res)) return "retire";
    return res?.needsReset === true ? "reset" : "reuse";
  };

  /** One transaction on an open session. */
  async function attempt(conn: SmtpConnection, input: TransactionInput): Promise<Attempt> {
    // Asked for SMTPUTF8 but the server lacks it: it can still go if nothing in it needs the
    // extension once domains are A-labels (RFC 6531 §3.4); only then is the header read.
    const utf8 =
      input.envelope.smtputf8 &&
      (conn.extensions.smtputf8 ||
        needsSmtputf8(input.envelope, input.recipients, await headerSectionIsAscii(input.body())));
    const sent =
      utf8 === input.envelope.smtputf8
        ? input
        : { ...input, envelope: { ...input.envelope, smtputf8: utf8 } };
    const chunked = sendsChunked(conn.extensions, options);
    // A frontend taking a backend's mail is a cluster member (its self-made certificate is not
    // for outside CAs to vouch for): the hop is TLS and the frontend offers REQUIRETLS, so it
    // takes the promise on; it is verified when the mail leaves the cluster.
    const hop = { active: conn.tls, verified: conn.verified || conn.target.member === true };
    const problem =
      capabilityProblem(sent.envelope, conn.extensions, conn.relay, chunked) ??
      requireTlsProblem(sent.envelope, conn.extensions, hop, conn.relay);
    if (problem !== null) {
      const outcomes = input.recipients.map(() => bounced(problem, conn.relay, "message"));
      return { res: null, outcomes, after: after(conn, null) };
    }
    const res = await runTransaction(conn, sent, options);
    return { res, outcomes: transactionOutcomes(res, conn.relay), after: after(conn, res) };
  }

  return {
    deliver: (job) =>
      pooled.deliver(job, async () => {
        const key = job.route.key;
        const plain = transactionInput(job);
        const input = opts.dkim === undefined ? plain : { ...plain, body: await opts.dkim.body(job) };
        const domain = policyDomain(key);
        const optional = await relaxed(domain, input);
        if (optional) log.info("TLS-Required: No, the domain's TLS policy is not applied", { domain });
        return {
          // Sessions opened without the policy are pooled apart, for such messages only.
          key: optional ? `${key} TLS-Required:No` : key,
          attempt: (conn) => attempt(conn, input),
          open: async () => {
            const targets = await resolveTargets(key, settings, resolver, opts.frontends);
            if (targets.kind === "none") return everyone(job, targets.reply, "none", targets.permanent);
            const policy = domain === null || optional ? undefined : await policies.plan(domain);
            const c = await connectToTargets(targets.hosts, {
              resolver,
              dialer,
              clock,
              log,
              options,
              smarthost,
              reports,
              ...(policy !== undefined ? { policy } : {}),
            });
            return c.kind === "failed" ? everyone(job, c.reply, c.relay, c.permanent) : c.conn;
          },
        };
      }),
    close: () => pooled.close(),
  };
}

function everyone(job: DeliveryJob, reply: Reply, relay: string, permanent: boolean): Outcome[] {
  return job.recipients.map(() =>
    permanent ? bounced(reply, relay, "destination") : deferred(reply, relay, "destination"),
  );
}

/** A 421 anywhere means the server is closing the channel (RFC 5321 §3.8). */
function saw421(res: TransactionResult | null): boolean {
  if (res === null) return false;
  return [res.mail, res.data, res.final, ...res.rcpt].some((r) => r?.code === 421);
}
