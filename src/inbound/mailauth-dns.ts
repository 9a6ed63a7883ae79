// The injected Resolver (src/world/resolver.ts) in the shape mailauth asks for: a function of
// (name, rrtype) that answers as node:dns's resolve() does and throws errors with its codes, so
// mailauth can tell a missing name (ENOTFOUND, ENODATA: SPF "none", DKIM "permerror") from a
// server that failed (anything else: "temperror", RFC 7208 §2.6.6, RFC 6376 §6.1.2). Answers
// are untrusted DNS data; mailauth bounds the lookups (RFC 7208 §4.6.4: 10, 2 void).
import net from "node:net";
import type { DnsAnswer, Resolver } from "../world/resolver.js";

export type MailauthResolver = (name: string, rrtype: string) => Promise<unknown[]>;

const failure = (code: string, name: string): Error =>
  Object.assign(new Error(`${code} ${name}`), { code, hostname: name });

function records<T>(name: string, a: DnsAnswer<T>): T[] {
  switch (a.kind) {
    case "ok":
      if (a.records.length === 0) throw failure("ENODATA", name);
      return [...a.records];
    case "nxdomain":
      throw failure("ENOTFOUND", name);
    case "nodata":
      throw failure("ENODATA", name);
    case "temporary":
      // Keep a timeout a timeout; every other trouble is SERVFAIL, never a "no such name".
      throw failure(a.error === "ETIMEOUT" ? "ETIMEOUT" : "ESERVFAIL", name);
  }
}

/** PTR queries come as d.c.b.a.in-addr.arpa / nibble ip6.arpa names (mailauth builds them). */
function addressOfPtrName(name: string): string | null {
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa\.?$/i.exec(name);
  if (v4 !== null) return `${v4[4]}.${v4[3]}.${v4[2]}.${v4[1]}`;
  const v6 = /^((?:[0-9a-f]\.){32})ip6\.arpa\.?$/i.exec(name);
  if (v6?.[1] === undefined) return null;
  const hex = v6[1].split(".").filter(Boolean).reverse().join("");
  return (hex.match(/.{4}/g) ?? []).join(":");
}

export function mailauthResolver(resolver: Resolver): MailauthResolver {
  return async (name, rrtype) => {
    switch (rrtype.toUpperCase()) {
      case "TXT":
        return records(name, await resolver.resolveTxt(name)).map((r) => [...r]);
      case "MX":
        return records(name, await resolver.resolveMx(name)).map((r) => ({ ...r }));
      case "A":
      case "AAAA": {
        const want = rrtype.toUpperCase() === "A" ? 4 : 6;
        const all = records(name, await resolver.resolveAddresses(name));
        const some = all.filter((a) => net.isIP(a) === want);
        if (some.length === 0) throw failure("ENODATA", name);
        return some;
      }
      case "PTR": {
        const address = addressOfPtrName(name);
        if (address === null) throw failure("ENOTFOUND", name);
        return records(name, await resolver.resolvePtr(address));
      }
      default:
        // mailauth asks nothing else on this path (BIMI is off); refuse rather than guess.
        throw failure("ENOTIMP", name);
    }
  };
}
