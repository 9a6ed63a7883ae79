// A resolver from a table, for .test domains: never touches real DNS. A name in `failing`
// answers every question with a temporary error (a DNS server that times out).
import type { DnsAnswer, MxRecord, Resolver } from "../../src/world/resolver.js";

export interface FakeZone {
  mx?: Record<string, DnsAnswer<MxRecord>>;
  addresses?: Record<string, DnsAnswer<string>>;
  /** TXT records by name; a plain string is one record of one character-string. */
  txt?: Record<string, DnsAnswer<readonly string[]> | readonly string[]>;
  ptr?: Record<string, DnsAnswer<string>>;
  /** Names (and their subdomains) whose every lookup fails temporarily. */
  failing?: readonly string[];
}

const under = (name: string, zone: string): boolean => name === zone || name.endsWith(`.${zone}`);

export function fakeResolver(zone: FakeZone): Resolver & { queries: string[] } {
  const queries: string[] = [];
  const fails = (name: string): boolean => (zone.failing ?? []).some((z) => under(name.toLowerCase(), z));
  const broken = { kind: "temporary", error: "ETIMEOUT" } as const;
  return {
    queries,
    resolveMx(domain) {
      queries.push(`MX ${domain}`);
      if (fails(domain)) return Promise.resolve(broken);
      return Promise.resolve(zone.mx?.[domain.toLowerCase()] ?? { kind: "nxdomain" });
    },
    resolveAddresses(host) {
      queries.push(`A ${host}`);
      if (fails(host)) return Promise.resolve(broken);
      return Promise.resolve(zone.addresses?.[host.toLowerCase()] ?? { kind: "nxdomain" });
    },
    resolveTxt(name) {
      queries.push(`TXT ${name}`);
      if (fails(name)) return Promise.resolve(broken);
      const found = zone.txt?.[name.toLowerCase()];
      if (found === undefined) return Promise.resolve({ kind: "nxdomain" });
      if ("kind" in found) return Promise.resolve(found);
      return Promise.resolve({ kind: "ok", records: found.map((t) => [t]) });
    },
    resolvePtr(address) {
      queries.push(`PTR ${address}`);
      if (fails(address)) return Promise.resolve(broken);
      return Promise.resolve(zone.ptr?.[address] ?? { kind: "nxdomain" });
    },
  };
}
