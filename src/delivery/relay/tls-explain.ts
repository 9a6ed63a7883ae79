// What `mailyard tls check DOMAIN` shows: the TLS policy the relay would apply to a recipient
// domain and why, found the way the relay finds it (targets.ts for the MX hosts, tls-policy.ts
// for the plan) with the node's resolver, dialer and settings: the configured policy and where
// it comes from, the MX hosts, the MTA-STS record and policy, the DNSSEC status of the MX RRset
// and each host's TLSA records, and per host the requirement that results. Nothing is sent and
// nothing is recorded; lookups may fetch a policy over HTTPS. The answers are untrusted and only
// described.
import type { Settings } from "../../config/settings.js";
import type { TlsaRecord } from "../../proto/dns-message.js";
import type { StsPolicy } from "../../proto/mta-sts.js";
import { replyLine } from "../../proto/reply.js";
import { clientOptions, usableTlsa, type SessionSecurity } from "../../smtp/client/index.js";
import type { Clock } from "../../world/clock.js";
import type { Dialer } from "../../world/dialer.js";
import type { Resolver } from "../../world/resolver.js";
import { resolveTargets } from "./targets.js";
import {
  configuredPolicy,
  createTlsPolicies,
  secureMxHosts,
  type StsLookup,
  type TlsPolicyName,
} from "./tls-policy.js";
import { noTlsReports } from "./tls-report.js";

export interface HostExplanation {
  readonly host: string;
  /** The TLSA RRset of _PORT._tcp.HOST when DANE was asked; null when it was not. */
  readonly tlsa: {
    readonly name: string;
    readonly answer: string;
    readonly records: readonly string[];
  } | null;
  /** What this host must show: "DANE-EE/TA match", "verified certificate", "none", or why it is skipped. */
  readonly requirement: string;
  readonly source: string;
}

export interface TlsExplanation {
  readonly domain: string;
  readonly configured: TlsPolicyName;
  readonly configuredBy: string;
  /** The MX hosts in preference order, or why there are none. */
  readonly mx: readonly string[] | string;
  readonly daneResolver: string | null;
  /** DNSSEC status of the MX RRset at the validating resolver (dane policy only). */
  readonly mxDnssec: string | null;
  readonly sts: {
    readonly record: string;
    readonly source: StsLookup["source"];
    readonly policy: StsPolicy | null;
    readonly problem: string | null;
  } | null;
  readonly hosts: readonly HostExplanation[];
}

export interface ExplainDeps {
  readonly settings: Settings;
  readonly resolver: Resolver;
  readonly dialer: Dialer;
  readonly clock: Clock;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const tlsaText = (r: TlsaRecord): string => `${r.usage} ${r.selector} ${r.matching} ${hex(r.data)}`;

function requirementOf(s: SessionSecurity): string {
  if (s.tls === "opportunistic") return "STARTTLS when offered, certificate not checked";
  if (s.verify === null) return "STARTTLS required, certificate not checked (unauthenticated TLS)";
  if (s.verify.tlsa !== undefined)
    return `STARTTLS required, certificate matching ${s.verify.tlsa.length} TLSA record(s)`;
  return "STARTTLS required, certificate chaining to a trusted CA and naming the host";
}

export async function explainTlsPolicy(domain: string, d: ExplainDeps): Promise<TlsExplanation> {
  const { settings } = d;
  const o = settings.smtp.outbound;
  const configured = configuredPolicy(settings, domain);
  const byEntry = Object.keys(o.tlsPolicies).some((k) => k.toLowerCase() === domain.toLowerCase());
  const options = clientOptions(settings, settings.hostname);
  const policies = createTlsPolicies({ ...d, ca: options.ca, reports: noTlsReports });
  const targets = await resolveTargets(`relay:${domain}`, settings, d.resolver);
  const base = {
    domain,
    configured,
    configuredBy: byEntry ? `smtp.outbound.tlsPolicies["${domain}"]` : "smtp.outbound.tlsPolicy",
    daneResolver: policies.dane?.address ?? null,
  };
  if (targets.kind === "none")
    return { ...base, mx: replyLine(targets.reply), mxDnssec: null, sts: null, hosts: [] };
  const wantsSts = configured === "mta-sts" || configured === "dane";
  const sts = wantsSts ? await policies.sts(domain) : null;
  let mxDnssec: string | null = null;
  let secure: ReadonlySet<string> = new Set();
  if (configured === "dane" && policies.dane !== null) {
    const a = await policies.dane.mx(domain);
    mxDnssec =
      a.kind === "failed" ? `lookup failed: ${a.error}` : a.secure ? "secure (AD)" : "insecure (no AD)";
    secure = secureMxHosts(domain, a);
  }
  const plan = await policies.plan(domain);
  const hosts: HostExplanation[] = [];
  for (const t of targets.hosts) {
    let tlsa: HostExplanation["tlsa"] = null;
    if (configured === "dane" && policies.dane !== null && secure.has(t.name.toLowerCase())) {
      const name = `_${t.port}._tcp.${t.name}`;
      const a = await policies.dane.tlsa(name);
      tlsa =
        a.kind === "failed"
          ? { name, answer: `lookup failed: ${a.error}`, records: [] }
          : a.kind === "nxdomain"
            ? { name, answer: `none (NXDOMAIN, ${a.secure ? "secure" : "insecure"})`, records: [] }
            : {
                name,
                answer: `${a.records.length} record(s), ${a.secure ? "secure (AD)" : "insecure (no AD)"}, ${usableTlsa(a.records).length} usable`,
                records: a.records.map(tlsaText),
              };
    }
    const hp = await plan.forHost(t.name, t.port);
    hosts.push(
      hp.kind === "skip"
        ? { host: t.name, tlsa, requirement: `not tried: ${replyLine(hp.reply)}`, source: hp.policyType }
        : { host: t.name, tlsa, requirement: requirementOf(hp.security), source: hp.label },
    );
  }
  const stsOut =
    sts === null
      ? null
      : {
          record: sts.record,
          source: sts.source,
          policy: sts.policy,
          problem: sts.problem === undefined ? null : `${sts.problem.result}: ${sts.problem.why}`,
        };
  return { ...base, mx: targets.hosts.map((h) => h.name), mxDnssec, sts: stsOut, hosts };
}

/** The explanation as the lines `tls check` prints. */
export function explanationLines(e: TlsExplanation): string[] {
  const out = [`domain: ${e.domain}`, `configured policy: ${e.configured} (${e.configuredBy})`];
  out.push(typeof e.mx === "string" ? `MX: none (${e.mx})` : `MX hosts: ${e.mx.join(", ")}`);
  if (e.configured === "dane")
    out.push(`DANE resolver: ${e.daneResolver ?? "none"}; MX RRset: ${e.mxDnssec ?? "not asked"}`);
  if (e.sts !== null) {
    out.push(`MTA-STS record: ${e.sts.record === "" ? "none" : `id=${e.sts.record}`}`);
    const p = e.sts.policy;
    out.push(
      p === null
        ? `MTA-STS policy: none${e.sts.problem !== null ? ` (${e.sts.problem})` : ""}`
        : `MTA-STS policy: mode ${p.mode}, mx ${p.mx.join(" ") || "-"}, max_age ${p.maxAge} (${e.sts.source})${e.sts.problem !== null ? `; ${e.sts.problem}` : ""}`,
    );
  }
  for (const h of e.hosts) {
    out.push(`host ${h.host}:`);
    if (h.tlsa !== null) {
      out.push(`  TLSA ${h.tlsa.name}: ${h.tlsa.answer}`);
      for (const r of h.tlsa.records) out.push(`    ${r}`);
    }
    out.push(`  policy: ${h.source}`, `  requires: ${h.requirement}`);
  }
  return out;
}
