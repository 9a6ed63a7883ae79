// A resolver from a table, for .test domains: never touches real DNS.
import type { DnsAnswer, MxRecord, Resolver } from "../../src/world/resolver.js";

export interface FakeZone {
  mx?: Record<string, DnsAnswer<MxRecord>>;
  addresses?: Record<string, DnsAnswer<string>>;
}

export function fakeResolver(zone: FakeZone): Resolver & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    resolveMx(domain) {
      queries.push(`MX ${domain}`);
      return Promise.resolve(zone.mx?.[domain.toLowerCase()] ?? { kind: "nxdomain" });
    },
    resolveAddresses(host) {
      queries.push(`A ${host}`);
      return Promise.resolve(zone.addresses?.[host.toLowerCase()] ?? { kind: "nxdomain" });
    },
  };
}
