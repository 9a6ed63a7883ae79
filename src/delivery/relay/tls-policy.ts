// The outbound TLS policy of a destination domain (smtp.outbound.tlsPolicy, tlsPolicies): what
// each of its MX hosts must show before mail goes to it. In order of precedence:
//   dane      (RFC 7672) when the MX RRset and the host's TLSA RRset are DNSSEC-secure (the AD bit
//             of smtp.outbound.daneResolver): STARTTLS required, the certificate matched against
//             the usable TLSA records; secure but none usable: STARTTLS required, unauthenticated
//             (§2.2); a failed TLSA lookup keeps mail away from that host (§2.2.1). Insecure: on
//             to MTA-STS, as RFC 8461 §2 says (DANE wins where it applies).
//   mta-sts   (RFC 8461) for `dane` and `mta-sts`: enforce: only the MX hosts the policy lists,
//             STARTTLS required, a certificate that chains to the trusted CAs and names the host;
//             testing: delivered as opportunistic, failures only reported; none / no policy: on.
//   verify    STARTTLS required, the Web PKI check against the MX host name.
//   opportunistic  STARTTLS when offered, nothing checked (the Internet's default).
// Policies are cached per domain with their max_age and TXT id (RFC 8461 §5.1); a failed fetch
// keeps an unexpired cached policy. Only MX routes have a policy; smarthosts have smtp.forwardTls.
// Inputs are DNS answers and HTTPS bodies, untrusted and parsed in proto/.
import { ConfigError } from "../../config/load.js";
import { OUTBOUND_TLS_POLICIES, type Settings } from "../../config/settings.js";
import type { Log } from "../../log/logger.js";
import type { MxData, TlsaRecord } from "../../proto/dns-message.js";
import { mxMatches, parseStsRecord, type StsPolicy } from "../../proto/mta-sts.js";
import { REPLIES, type Reply } from "../../proto/reply.js";
import { usableTlsa, type SessionSecurity } from "../../smtp/client/index.js";
import type { Clock } from "../../world/clock.js";
import type { Dialer } from "../../world/dialer.js";
import type { Resolver } from "../../world/resolver.js";
import { daneResolver, type DaneAnswer, type DaneResolver } from "./dane-lookup.js";
import { fetchStsPolicy, type StsFetch } from "./mta-sts-fetch.js";
import type { TlsFailureType, TlsPolicyType, TlsReportSink } from "./tls-report.js";

export type TlsPolicyName = (typeof OUTBOUND_TLS_POLICIES)[number];

/** Domains whose MTA-STS policy is kept at most (the oldest entry goes first). */
const MAX_CACHED = 10_000;
/** A domain whose policy could not be fetched is asked again after this long at the earliest. */
const FAILED_FETCH_RETRY_MS = 5 * 60 * 1000;

/** What one MX host gets under the domain's policy. */
export type HostPlan =
  | {
      readonly kind: "connect";
      readonly security: SessionSecurity;
      /** Where the requirement comes from, for replies and logs: "DANE", "MTA-STS", "verify"... */
      readonly label: string;
      readonly policyType: TlsPolicyType;
      /** The requirement holds: its failure skips the host (else it is only reported). */
      readonly enforced: boolean;
      /** MTA-STS: the policy's mode. */
      readonly mode?: "enforce" | "testing";
      /** What TLS reports name the policy by (tls-report.ts). */
      readonly policyStrings?: readonly string[];
      readonly mxPatterns?: readonly string[];
      /** MTA-STS testing: report what enforce would have refused (not delivered differently). */
      readonly testing?: { readonly listed: boolean; readonly policy: StsPolicy };
    }
  /** Not to be tried at all (not listed by an enforced MTA-STS policy, TLSA lookup failed). */
  | {
      readonly kind: "skip";
      readonly reply: Reply;
      readonly policyType: TlsPolicyType;
      readonly result: TlsFailureType;
      readonly mode?: "enforce";
      readonly policyStrings?: readonly string[];
      readonly mxPatterns?: readonly string[];
    };

export interface DomainPlan {
  readonly domain: string;
  readonly configured: TlsPolicyName;
  /** The MTA-STS policy in force (null: none, or not asked). */
  readonly sts: StsPolicy | null;
  forHost(host: string, port: number): Promise<HostPlan>;
}

export interface TlsPolicyDeps {
  readonly settings: Settings;
  readonly resolver: Resolver;
  readonly dialer: Dialer;
  readonly clock: Clock;
  /** Absent: nothing logged (`tls check` prints instead). */
  readonly log?: Log;
  /** The CAs a verified certificate chains to (ClientOptions.ca); undefined: Node's. */
  readonly ca: readonly string[] | undefined;
  readonly reports: TlsReportSink;
}

interface Cached {
  readonly id: string;
  readonly policy: StsPolicy | null;
  readonly expires: number;
}

export interface TlsPolicies {
  /** The plan for a recipient domain (an ASCII domain, no literal). */
  plan(domain: string): Promise<DomainPlan>;
  /** The policy configured for a domain: its tlsPolicies entry, else tlsPolicy. */
  configured(domain: string): TlsPolicyName;
  /** The MTA-STS lookup as plan() makes it, for `tls check`: record, fetch, cache use. */
  sts(domain: string): Promise<StsLookup>;
  readonly dane: DaneResolver | null;
}

export interface StsLookup {
  readonly record: string;
  readonly policy: StsPolicy | null;
  readonly source: "fetched" | "cached" | "none";
  readonly problem?: { readonly result: TlsFailureType; readonly why: string };
}

export function configuredPolicy(settings: Settings, domain: string): TlsPolicyName {
  const o = settings.smtp.outbound;
  const d = domain.toLowerCase().replace(/\.$/, "");
  const entry = Object.entries(o.tlsPolicies).find(([k]) => k.toLowerCase().replace(/\.$/, "") === d)?.[1];
  return (entry ?? o.tlsPolicy) as TlsPolicyName;
}

export function createTlsPolicies(d: TlsPolicyDeps): TlsPolicies {
  const o = d.settings.smtp.outbound;
  const timeoutMs = o.policyTimeoutSeconds * 1000;
  const wantsDane = o.tlsPolicy === "dane" || Object.values(o.tlsPolicies).includes("dane");
  if (wantsDane && o.daneResolver === "")
    throw new ConfigError(
      "the dane TLS policy needs smtp.outbound.daneResolver (a DNSSEC-validating resolver, e.g. 127.0.0.1:53)",
    );
  const dane = o.daneResolver === "" ? null : daneResolver(o.daneResolver, d.clock, timeoutMs);
  const cache = new Map<string, Cached>();
  const inflight = new Map<string, Promise<StsLookup>>();
  const verify: SessionSecurity = { tls: "starttls", verify: { ca: d.ca }, credentials: null };
  const verifyPlan: HostPlan = {
    kind: "connect",
    security: verify,
    label: "verify",
    policyType: "static",
    enforced: true,
  };

  const remember = (domain: string, c: Cached): void => {
    cache.delete(domain);
    cache.set(domain, c);
    if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value!);
  };

  async function lookUp(domain: string): Promise<StsLookup> {
    const now = d.clock.now();
    const held = cache.get(domain);
    const cached = held !== undefined && held.expires > now ? held : null;
    const keep = (problem?: StsLookup["problem"]): StsLookup => ({
      record: cached?.id ?? "",
      policy: cached?.policy ?? null,
      source: cached?.policy != null ? "cached" : "none",
      ...(problem !== undefined ? { problem } : {}),
    });
    const txt = await d.resolver.resolveTxt(`_mta-sts.${domain}`);
    // No record (or no answer) leaves an unexpired cached policy in force (§5.1).
    if (txt.kind !== "ok") return keep();
    const rec = parseStsRecord(txt.records);
    if (rec.kind === "none") return keep();
    if (rec.kind === "invalid") return keep({ result: "sts-policy-invalid", why: rec.why });
    if (cached !== null && cached.id === rec.record.id)
      return {
        record: rec.record.id,
        policy: cached.policy,
        source: cached.policy !== null ? "cached" : "none",
      };
    const got: StsFetch = await fetchStsPolicy(domain, {
      resolver: d.resolver,
      dialer: d.dialer,
      clock: d.clock,
      ca: d.ca,
      timeoutMs,
    });
    if (got.kind === "failed") {
      d.log?.problem("MTA-STS policy fetch failed", { domain, result: got.result, why: got.why });
      // Asked again soon rather than at every delivery; an older unexpired policy stays.
      if (cached === null)
        remember(domain, { id: rec.record.id, policy: null, expires: now + FAILED_FETCH_RETRY_MS });
      return { ...keep({ result: got.result, why: got.why }), record: rec.record.id };
    }
    remember(domain, { id: rec.record.id, policy: got.policy, expires: now + got.policy.maxAge * 1000 });
    d.log?.info("MTA-STS policy fetched", {
      domain,
      id: rec.record.id,
      mode: got.policy.mode,
      maxAge: got.policy.maxAge,
    });
    return { record: rec.record.id, policy: got.policy, source: "fetched" };
  }

  const sts = (domain: string): Promise<StsLookup> => {
    const key = domain.toLowerCase();
    const running = inflight.get(key);
    if (running !== undefined) return running;
    const p = lookUp(key).finally(() => inflight.delete(key));
    inflight.set(key, p);
    return p;
  };

  /** The STS part of a plan, once per plan; failures to get it reported once. */
  async function stsPart(domain: string): Promise<StsPolicy | null> {
    const got = await sts(domain);
    if (got.problem !== undefined)
      d.reports.record({
        policyDomain: domain,
        policyType: "sts",
        result: got.problem.result,
        reason: got.problem.why,
        at: d.clock.now(),
      });
    return got.policy !== null && got.policy.mode !== "none" ? got.policy : null;
  }

  function stsHost(domain: string, policy: StsPolicy | null, host: string): HostPlan {
    if (policy === null) return NO_POLICY;
    const listed = mxMatches(host, policy.mx);
    const named = {
      policyStrings: [
        "version: STSv1",
        `mode: ${policy.mode}`,
        ...policy.mx.map((m) => `mx: ${m}`),
        `max_age: ${policy.maxAge}`,
      ],
      mxPatterns: policy.mx,
    };
    if (policy.mode === "testing")
      return {
        kind: "connect",
        security: opportunistic,
        label: "MTA-STS (testing)",
        policyType: "sts",
        enforced: false,
        mode: "testing",
        testing: { listed, policy },
        ...named,
      };
    if (!listed)
      return {
        kind: "skip",
        reply: REPLIES.policyMxNotListed({ domain, host }),
        policyType: "sts",
        result: "validation-failure",
        mode: "enforce",
        ...named,
      };
    return {
      kind: "connect",
      security: verify,
      label: "MTA-STS",
      policyType: "sts",
      enforced: true,
      mode: "enforce",
      ...named,
    };
  }

  async function daneHost(host: string, port: number, secure: ReadonlySet<string>): Promise<HostPlan | null> {
    if (dane === null || !secure.has(host.replace(/\.$/, "").toLowerCase())) return null;
    const name = `_${port}._tcp.${host.replace(/\.$/, "")}`;
    const a: DaneAnswer<TlsaRecord> = await dane.tlsa(name);
    if (a.kind === "failed")
      return {
        kind: "skip",
        reply: REPLIES.policyDnsFailed({ name, why: a.error }),
        policyType: "tlsa",
        result: "dnssec-invalid",
      };
    if (!a.secure || a.kind === "nxdomain" || a.records.length === 0) return null;
    const usable = usableTlsa(a.records);
    // §2.2: secure TLSA records, none usable: TLS is still mandatory, just not authenticated.
    const security: SessionSecurity =
      usable.length === 0
        ? { tls: "starttls", verify: null, credentials: null }
        : { tls: "starttls", verify: { ca: undefined, tlsa: usable }, credentials: null };
    const policyStrings = a.records.map(
      (r) => `${r.usage} ${r.selector} ${r.matching} ${Buffer.from(r.data).toString("hex")}`,
    );
    return { kind: "connect", security, label: "DANE", policyType: "tlsa", enforced: true, policyStrings };
  }

  return {
    dane,
    configured: (domain) => configuredPolicy(d.settings, domain),
    sts,
    async plan(domain) {
      const configured = configuredPolicy(d.settings, domain);
      const base = { domain, configured };
      switch (configured) {
        case "opportunistic":
          return { ...base, sts: null, forHost: () => Promise.resolve(NO_POLICY) };
        case "verify":
          return { ...base, sts: null, forHost: () => Promise.resolve(verifyPlan) };
        case "mta-sts": {
          const policy = await stsPart(domain);
          return { ...base, sts: policy, forHost: (host) => Promise.resolve(stsHost(domain, policy, host)) };
        }
        case "dane": {
          const mx = dane === null ? null : await dane.mx(domain);
          if (mx?.kind === "failed") {
            const reply = REPLIES.policyDnsFailed({ name: domain, why: mx.error });
            return {
              ...base,
              sts: null,
              forHost: () =>
                Promise.resolve({ kind: "skip", reply, policyType: "tlsa", result: "dnssec-invalid" }),
            };
          }
          const secure = secureMxHosts(domain, mx);
          const policy = await stsPart(domain);
          return {
            ...base,
            sts: policy,
            forHost: async (host, port) =>
              (await daneHost(host, port, secure)) ?? stsHost(domain, policy, host),
          };
        }
      }
    },
  };
}

const opportunistic: SessionSecurity = { tls: "opportunistic", verify: null, credentials: null };
const NO_POLICY: HostPlan = {
  kind: "connect",
  security: opportunistic,
  label: "opportunistic",
  policyType: "no-policy-found",
  enforced: false,
};

/**
 * The MX hosts whose names DNSSEC vouches for (RFC 7672 §2.2.1: only those get a TLSA lookup);
 * a secure "no MX" vouches for the domain itself (§2.2.2), an insecure answer for nothing.
 */
export function secureMxHosts(domain: string, a: DaneAnswer<MxData> | null): ReadonlySet<string> {
  const norm = (n: string): string => n.replace(/\.$/, "").toLowerCase();
  if (a === null || a.kind === "failed" || !a.secure) return new Set();
  if (a.kind === "nxdomain" || a.records.length === 0) return new Set([norm(domain)]);
  return new Set(a.records.map((r) => norm(r.exchange)));
}
