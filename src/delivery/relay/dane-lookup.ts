// Asking a DNSSEC-validating resolver (smtp.outbound.daneResolver, e.g. a local unbound) for the
// MX and TLSA records DANE needs, and whether it validated them: the AD bit (RFC 4035 §3.2.3),
// which Node's dns module does not show. One UDP query (proto/dns-message.ts), over TCP again
// when the answer was truncated (RFC 7766); every wait bounded by the clock. The AD bit means
// something only from a resolver we trust on a path we trust: loopback, as docs/SECURITY.md
// says. Answers from another address or for another id or question are dropped (so a blind
// spoofer must race the resolver); a malformed answer is a failure, never a record.
import dgram from "node:dgram";
import { randomInt } from "node:crypto";
import net from "node:net";
import {
  DnsFormatError,
  TYPE_MX,
  TYPE_TLSA,
  decodeResponse,
  encodeQuery,
  type DnsQuery,
  type DnsResponse,
  type MxData,
  type TlsaRecord,
} from "../../proto/dns-message.js";
import { ConfigError } from "../../config/load.js";
import { parseHostPort } from "../../proto/hostport.js";
import type { Clock } from "../../world/clock.js";

export type DaneAnswer<T> =
  /** NOERROR; `records` empty is NODATA. */
  | { readonly kind: "records"; readonly secure: boolean; readonly records: readonly T[] }
  | { readonly kind: "nxdomain"; readonly secure: boolean }
  /** SERVFAIL (a bogus answer among others), refused, a timeout or a malformed answer. */
  | { readonly kind: "failed"; readonly error: string };

export interface DaneResolver {
  /** Where it asks, "host:port", for what `tls check` prints. */
  readonly address: string;
  mx(domain: string): Promise<DaneAnswer<MxData>>;
  tlsa(name: string): Promise<DaneAnswer<TlsaRecord>>;
}

/** Longest TCP answer read (the 16-bit length prefix's limit). */
const MAX_TCP_ANSWER = 65_535;

export function daneResolver(address: string, clock: Clock, timeoutMs: number): DaneResolver {
  const hp = parseHostPort(address, 53);
  // Answers are matched by their source address, so the resolver is named by one.
  if (net.isIP(hp.host) === 0)
    throw new ConfigError(`smtp.outbound.daneResolver must be an IP address and port, not ${address}`);
  const ask = async (name: string, type: number): Promise<DnsResponse | string> => {
    const q: DnsQuery = { id: randomInt(0, 65_536), name, type };
    let query: Uint8Array;
    try {
      query = encodeQuery(q);
    } catch (e) {
      return (e as Error).message;
    }
    const x: Exchange = { host: hp.host, port: hp.port, q, query, clock, timeoutMs };
    const udp = await udpExchange(x);
    if (typeof udp === "string" || !udp.truncated) return udp;
    return tcpExchange(x);
  };
  const answer = <T>(r: DnsResponse | string, pick: (r: DnsResponse) => readonly T[]): DaneAnswer<T> => {
    if (typeof r === "string") return { kind: "failed", error: r };
    if (r.rcode === 0) return { kind: "records", secure: r.authenticated, records: pick(r) };
    if (r.rcode === 3) return { kind: "nxdomain", secure: r.authenticated };
    return { kind: "failed", error: r.rcode === 2 ? "SERVFAIL" : `RCODE ${r.rcode}` };
  };
  return {
    address: `${hp.host}:${hp.port}`,
    mx: async (domain) => answer(await ask(domain, TYPE_MX), (r) => r.mx),
    tlsa: async (name) => answer(await ask(name, TYPE_TLSA), (r) => r.tlsa),
  };
}

/** One query's exchange with the resolver: where, what (decoded and encoded), how long. */
interface Exchange {
  readonly host: string;
  readonly port: number;
  readonly q: DnsQuery;
  readonly query: Uint8Array;
  readonly clock: Clock;
  readonly timeoutMs: number;
}

function udpExchange(x: Exchange): Promise<DnsResponse | string> {
  const { host, port, q, query, clock, timeoutMs } = x;
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4");
    const done = (r: DnsResponse | string): void => {
      timer.cancel();
      sock.close();
      resolve(r);
    };
    const timer = clock.setTimeout(() => done(`no answer from ${host}:${port} in time`), timeoutMs);
    sock.on("error", (e) => done(`DNS query to ${host}:${port} failed: ${e.message}`));
    sock.on("message", (msg, from) => {
      if (from.port !== port || from.address !== host) return;
      try {
        done(decodeResponse(msg, q));
      } catch (e) {
        // Another id or question is someone else's answer (or a spoof): keep waiting.
        if (e instanceof DnsFormatError && /another/.test(e.message)) return;
        done(`bad DNS answer from ${host}:${port}: ${(e as Error).message}`);
      }
    });
    sock.send(query, port, host);
  });
}

function tcpExchange(x: Exchange): Promise<DnsResponse | string> {
  const { host, port, q, query, clock, timeoutMs } = x;
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let got = 0;
    let settled = false;
    const done = (r: DnsResponse | string): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      sock.destroy();
      resolve(r);
    };
    const timer = clock.setTimeout(() => done(`no TCP answer from ${host}:${port} in time`), timeoutMs);
    sock.on("error", (e) => done(`DNS query over TCP to ${host}:${port} failed: ${e.message}`));
    sock.on("close", () => done(`${host}:${port} closed the TCP connection before answering`));
    sock.on("connect", () => {
      const framed = Buffer.alloc(2 + query.length);
      framed.writeUInt16BE(query.length, 0);
      framed.set(query, 2);
      sock.write(framed);
    });
    sock.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got > 2 + MAX_TCP_ANSWER) return done(`oversized TCP answer from ${host}:${port}`);
      const all = Buffer.concat(chunks);
      if (all.length < 2) return;
      const len = all.readUInt16BE(0);
      if (all.length < 2 + len) return;
      try {
        done(decodeResponse(all.subarray(2, 2 + len), q));
      } catch (e) {
        done(`bad DNS answer from ${host}:${port}: ${(e as Error).message}`);
      }
    });
  });
}
