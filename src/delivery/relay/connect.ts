// Walking the target hosts until one holds an open SMTP session: each host's addresses in turn;
// a refused or timed-out connection, a 4xx greeting, a broken conversation or a failed TLS
// handshake moves on to the next address. A 5xx greeting/EHLO moves on too, except at the very
// last address, where it is the destination's final word (as Postfix treats it). A smarthost
// (a host:port of smtp.forwardTo) gets the smarthost security: a TLS, certificate or AUTH
// requirement it does not meet moves on as well, and is never final (a 4.7.x deferral: it is
// our settings or a fault on the path, not the recipients, that stops the mail). An MX host gets
// what the domain's TLS policy asks of it (tls-policy.ts): a host the policy rules out is not
// dialled, and one that fails the policy's TLS requirement moves on with a 4.7.x reason, never
// final either; every policy result goes to the TLS report sink. Remote input is the DNS
// answers and the server replies.
import net from "node:net";
import { REPLIES, replyLine, type Reply } from "../../proto/reply.js";
import {
  OPPORTUNISTIC,
  SmtpClientError,
  SmtpConnection,
  openSession,
  type ClientOptions,
  type SessionSecurity,
} from "../../smtp/client/index.js";
import type { Log } from "../../log/logger.js";
import type { Clock } from "../../world/clock.js";
import type { Dialer } from "../../world/dialer.js";
import type { Resolver } from "../../world/resolver.js";
import type { TargetHost } from "./targets.js";
import type { DomainPlan, HostPlan } from "./tls-policy.js";
import { failureType, noTlsReports, type TlsFailureType, type TlsReportSink } from "./tls-report.js";

export interface ConnectDeps {
  readonly resolver: Resolver;
  readonly dialer: Dialer;
  readonly clock: Clock;
  readonly log: Log;
  readonly options: ClientOptions;
  /** For smarthosts (TargetHost.smarthost); other hosts get opportunistic STARTTLS. */
  readonly smarthost?: SessionSecurity;
  /** The recipient domain's TLS policy, for MX hosts (relay routes only). */
  readonly policy?: DomainPlan;
  readonly reports?: TlsReportSink;
}

/** A host's plan with no policy behind it (smarthosts, frontends, domain literals). */
const unplanned = (security: SessionSecurity): HostPlan & { kind: "connect" } => ({
  kind: "connect",
  security,
  label: "",
  policyType: "no-policy-found",
  enforced: false,
});

export type Connected =
  | { readonly kind: "connected"; readonly conn: SmtpConnection }
  | { readonly kind: "failed"; readonly reply: Reply; readonly relay: string; readonly permanent: boolean };

export async function connectToTargets(hosts: readonly TargetHost[], d: ConnectDeps): Promise<Connected> {
  let last: { reply: Reply; relay: string } | null = null;
  for (let h = 0; h < hosts.length; h++) {
    const host = hosts[h]!;
    const policy = host.smarthost || d.policy === undefined ? null : d.policy;
    const plan =
      policy === null
        ? unplanned(host.smarthost ? (d.smarthost ?? OPPORTUNISTIC) : OPPORTUNISTIC)
        : await policy.forHost(host.name, host.port);
    const report = (result: "success" | TlsFailureType, address?: string, reason?: string): void => {
      if (policy === null) return;
      (d.reports ?? noTlsReports).record({
        policyDomain: policy.domain,
        policyType: plan.policyType,
        ...(plan.mode !== undefined ? { mode: plan.mode } : {}),
        ...(plan.policyStrings !== undefined ? { policyStrings: plan.policyStrings } : {}),
        ...(plan.mxPatterns !== undefined ? { mxPatterns: plan.mxPatterns } : {}),
        result,
        mxHost: host.name,
        ...(address !== undefined ? { receivingIp: address } : {}),
        ...(reason !== undefined ? { reason } : {}),
        at: d.clock.now(),
      });
    };
    if (plan.kind === "skip") {
      d.log.problem("TLS policy rules out host", { host: host.name, reply: replyLine(plan.reply) });
      report(plan.result, undefined, plan.reply.text);
      last = { reply: plan.reply, relay: host.name };
      continue;
    }
    const security = plan.security;
    const addresses = await addressesOf(host, d.resolver);
    if (addresses.kind === "bounce")
      return { kind: "failed", reply: addresses.reply, relay: "none", permanent: true };
    if (addresses.kind === "skip") {
      last = { reply: REPLIES.hostUnresolved({ why: addresses.text }), relay: "none" };
      continue;
    }
    for (let a = 0; a < addresses.list.length; a++) {
      const address = addresses.list[a]!;
      const final = h === hosts.length - 1 && a === addresses.list.length - 1;
      const relay = `${host.name}[${address}]:${host.port}`;
      let socket: net.Socket;
      try {
        socket = await d.dialer.connect({
          host: address,
          port: host.port,
          timeoutMs: d.options.connectTimeoutMs,
        });
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        d.log.problem("connect failed", { relay, error: why });
        last = { reply: REPLIES.connectFailed({ relay, why }), relay };
        continue;
      }
      const target = {
        host: host.name,
        address,
        port: host.port,
        ...(host.member === true ? { member: true } : {}),
      };
      const conn = new SmtpConnection(socket, target, d.clock);
      try {
        const open = await openSession(conn, d.options, security);
        if (open.kind === "ready") {
          const auth = conn.authenticated !== null ? { auth: conn.authenticated } : {};
          const label = plan.label !== "" ? { policy: plan.label } : {};
          d.log.info("connected", { relay, tls: conn.tls, esmtp: conn.extensions.esmtp, ...auth, ...label });
          const observed = observedResult(plan, conn);
          if (observed !== "success" && plan.testing !== undefined)
            d.log.problem("MTA-STS testing: enforce would refuse this host", { relay, result: observed });
          report(observed, address, observed === "success" ? undefined : (conn.pkix?.text ?? observed));
          return { kind: "connected", conn };
        }
        await conn.quit(d.options.commandTimeoutMs);
        if (open.kind === "unmet") {
          const what = policy === null ? "smarthost requirement not met" : "TLS policy requirement not met";
          d.log.problem(what, { relay, reply: replyLine(open.reply) });
          report("starttls-not-supported", address, open.reply.text);
          last = {
            reply:
              policy === null
                ? open.reply
                : REPLIES.policyTlsMissing({
                    policy: plan.label,
                    domain: policy.domain,
                    why: open.reply.text,
                  }),
            relay,
          };
          continue;
        }
        const said = replyLine(open.reply);
        d.log.problem("server refused session", { relay, stage: open.stage, reply: said });
        if (open.reply.code >= 500 && final) {
          return { kind: "failed", reply: open.reply, relay, permanent: true };
        }
        last = { reply: REPLIES.hostRefused({ relay, said }), relay };
      } catch (e) {
        conn.destroy();
        const why = e instanceof SmtpClientError ? e.message : String(e);
        d.log.problem("session failed", {
          relay,
          error: why,
          ...(plan.label !== "" ? { policy: plan.label } : {}),
        });
        const kind = e instanceof SmtpClientError ? e.kind : null;
        if (policy !== null && plan.enforced && (kind === "untrusted" || kind === "tls")) {
          const result = failureType(kind, e instanceof SmtpClientError ? e.result : undefined);
          report(result, address, why);
          const at = { policy: plan.label, domain: policy.domain, why };
          last = {
            reply: kind === "untrusted" ? REPLIES.policyCertificate(at) : REPLIES.policyHandshake(at),
            relay,
          };
          continue;
        }
        last = { reply: sessionFailure(e, why, security), relay };
      }
    }
  }
  return {
    kind: "failed",
    reply: last?.reply ?? REPLIES.noHost,
    relay: last?.relay ?? "none",
    permanent: false,
  };
}

/**
 * What a session that opened shows against its plan: success, or for MTA-STS testing (and a
 * session without a policy) what is missing: TLS, a listed MX, a verified certificate.
 */
function observedResult(
  plan: HostPlan & { kind: "connect" },
  conn: SmtpConnection,
): "success" | TlsFailureType {
  if (!conn.tls) return "starttls-not-supported";
  if (plan.testing === undefined) return "success";
  if (!plan.testing.listed) return "validation-failure";
  return conn.pkix === null ? "success" : failureType("untrusted", conn.pkix.result);
}

/** A certificate that did not verify is 4.7.5; so is a failed handshake where TLS was required. */
function sessionFailure(e: unknown, why: string, security: SessionSecurity): Reply {
  const kind = e instanceof SmtpClientError ? e.kind : null;
  if (kind === "untrusted") return REPLIES.certificateUntrusted({ why });
  if (kind === "tls" && security.tls !== "opportunistic") return REPLIES.tlsFailed({ why });
  return REPLIES.conversationFailed({ why });
}

type Addresses =
  | { readonly kind: "list"; readonly list: readonly string[] }
  | { readonly kind: "skip"; readonly text: string }
  | { readonly kind: "bounce"; readonly reply: Reply };

async function addressesOf(host: TargetHost, resolver: Resolver): Promise<Addresses> {
  if (net.isIP(host.name) !== 0) return { kind: "list", list: [host.name] };
  const a = await resolver.resolveAddresses(host.name);
  switch (a.kind) {
    case "ok":
      return a.records.length > 0
        ? { kind: "list", list: a.records }
        : { kind: "skip", text: `${host.name} has no address` };
    case "temporary":
      return {
        kind: "skip",
        text: `Host or domain name not found. Name service error for name=${host.name} type=A: ${a.error}`,
      };
    case "nxdomain":
    case "nodata":
      // The domain has neither MX nor address records: nothing will ever take its mail.
      if (host.implicit) {
        return {
          kind: "bounce",
          reply: REPLIES.hostNotFound({ host: host.name }),
        };
      }
      return {
        kind: "skip",
        text: `Host or domain name not found. Name service error for name=${host.name} type=A: Host not found`,
      };
  }
}
