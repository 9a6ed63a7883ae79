// DNS as a dependency. Answers are values: a missing domain (NXDOMAIN) is positive evidence for
// a permanent failure; anything else that goes wrong is temporary. Tests inject a fake resolver
// with .test domains and never touch real DNS.
import { promises as dns } from "node:dns";

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

export type DnsAnswer<T> =
  | { readonly kind: "ok"; readonly records: readonly T[] }
  /** The name does not exist (NXDOMAIN). */
  | { readonly kind: "nxdomain" }
  /** The name exists but has no records of this type (NODATA). */
  | { readonly kind: "nodata" }
  /** Timeout, SERVFAIL, refused, network down: try again later. */
  | { readonly kind: "temporary"; readonly error: string };

export interface Resolver {
  resolveMx(domain: string): Promise<DnsAnswer<MxRecord>>;
  /** A and AAAA addresses of a host, IPv4 first. */
  resolveAddresses(host: string): Promise<DnsAnswer<string>>;
  /** TXT records, each as its character-strings (RFC 1035 §3.3.14), for SPF, DKIM and DMARC. */
  resolveTxt(name: string): Promise<DnsAnswer<readonly string[]>>;
  /** PTR names of an address (SPF's ptr mechanism and %{p} macro, RFC 7208 §5.5). */
  resolvePtr(address: string): Promise<DnsAnswer<string>>;
}

const classify = (err: unknown): DnsAnswer<never> => {
  const code = (err as { code?: string }).code;
  if (code === "ENOTFOUND" || code === "NXDOMAIN") return { kind: "nxdomain" };
  if (code === "ENODATA") return { kind: "nodata" };
  return { kind: "temporary", error: code ?? String(err) };
};

/** The system resolver (the host's /etc/resolv.conf). */
export function systemResolver(): Resolver {
  const r = new dns.Resolver({ timeout: 5000, tries: 2 });
  return {
    async resolveMx(domain) {
      try {
        const rs = await r.resolveMx(domain);
        return { kind: "ok", records: rs.map((x) => ({ exchange: x.exchange, priority: x.priority })) };
      } catch (e) {
        return classify(e);
      }
    },
    async resolveTxt(name) {
      try {
        return { kind: "ok", records: await r.resolveTxt(name) };
      } catch (e) {
        return classify(e);
      }
    },
    async resolvePtr(address) {
      try {
        return { kind: "ok", records: await r.reverse(address) };
      } catch (e) {
        return classify(e);
      }
    },
    async resolveAddresses(host) {
      const [a, aaaa] = await Promise.allSettled([r.resolve4(host), r.resolve6(host)]);
      const records = [
        ...(a.status === "fulfilled" ? a.value : []),
        ...(aaaa.status === "fulfilled" ? aaaa.value : []),
      ];
      if (records.length > 0) return { kind: "ok", records };
      if (a.status === "rejected") {
        const c = classify(a.reason);
        if (c.kind === "nxdomain" || c.kind === "temporary") return c;
      }
      return { kind: "nodata" };
    },
  };
}
