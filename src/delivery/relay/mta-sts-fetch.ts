// Fetching a domain's MTA-STS policy (RFC 8461 §3.3): GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt
// with the name resolved by the injected resolver and the connection made by the injected dialer
// (so tests point it at a loopback server), a certificate that must chain to the trusted CAs
// (the system's and smtp.outbound.caFile) and name mta-sts.DOMAIN, no redirects followed, only a
// 200 with text/plain taken, at most 64 KB read, the whole fetch within the time limit. The
// server is untrusted: its answer is parsed by proto/mta-sts.ts, and every failure is a value
// with its RFC 8460 result type.
import http from "node:http";
import tls from "node:tls";
import { STS_POLICY_LIMIT, parseStsPolicy, type StsPolicy } from "../../proto/mta-sts.js";
import { pkixProblem } from "../../smtp/client/index.js";
import type { Clock } from "../../world/clock.js";
import type { Dialer } from "../../world/dialer.js";
import type { Resolver } from "../../world/resolver.js";

export interface StsFetchDeps {
  readonly resolver: Resolver;
  readonly dialer: Dialer;
  readonly clock: Clock;
  /** Trusted CAs (PEM); undefined: Node's root CAs. */
  readonly ca: readonly string[] | undefined;
  readonly timeoutMs: number;
}

export type StsFetch =
  | { readonly kind: "policy"; readonly policy: StsPolicy }
  | {
      readonly kind: "failed";
      readonly result: "sts-policy-fetch-error" | "sts-policy-invalid" | "sts-webpki-invalid";
      readonly why: string;
    };

const PATH = "/.well-known/mta-sts.txt";

export async function fetchStsPolicy(domain: string, d: StsFetchDeps): Promise<StsFetch> {
  const host = `mta-sts.${domain}`;
  const addrs = await d.resolver.resolveAddresses(host);
  if (addrs.kind !== "ok" || addrs.records.length === 0)
    return fetchError(`${host} has no address (${addrs.kind === "temporary" ? addrs.error : addrs.kind})`);
  let last: StsFetch = fetchError(`no address of ${host} answered`);
  // The first address that holds a conversation decides; a refused connection tries the next.
  for (const address of addrs.records.slice(0, 4)) {
    last = await fetchFrom(host, address, d);
    if (last.kind === "policy" || last.why !== "connect") break;
    last = fetchError(`connect to ${host}[${address}]:443 failed`);
  }
  return last;
}

const fetchError = (why: string): StsFetch => ({ kind: "failed", result: "sts-policy-fetch-error", why });

function fetchFrom(host: string, address: string, d: StsFetchDeps): Promise<StsFetch> {
  return new Promise((resolve) => {
    let settled = false;
    let cleanup: () => void = () => undefined;
    const done = (r: StsFetch): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      cleanup();
      resolve(r);
    };
    const timer = d.clock.setTimeout(
      () => done(fetchError(`fetching https://${host}${PATH} timed out`)),
      d.timeoutMs,
    );
    d.dialer.connect({ host: address, port: 443, timeoutMs: d.timeoutMs }).then(
      (raw) => {
        if (settled) return void raw.destroy();
        const secure = tls.connect({
          socket: raw,
          servername: host,
          rejectUnauthorized: false,
          ...(d.ca !== undefined ? { ca: [...d.ca] } : {}),
        });
        cleanup = () => secure.destroy();
        secure.on("error", (e: Error) => done(fetchError(`TLS with ${host}[${address}]: ${e.message}`)));
        secure.once("secureConnect", () => {
          const problem = pkixProblem(secure, host);
          if (problem !== null)
            return done({ kind: "failed", result: "sts-webpki-invalid", why: `${host}: ${problem.text}` });
          request(host, secure, done);
        });
      },
      () => done({ kind: "failed", result: "sts-policy-fetch-error", why: "connect" }),
    );
  });
}

/** The GET over the verified socket; the answer read up to the limit. */
function request(host: string, secure: tls.TLSSocket, done: (r: StsFetch) => void): void {
  const req = http.request({
    createConnection: () => secure,
    host,
    path: PATH,
    method: "GET",
    headers: { Host: host, Accept: "text/plain", "User-Agent": "Mailyard" },
  });
  req.on("error", (e) => done(fetchError(`https://${host}${PATH}: ${e.message}`)));
  req.on("response", (res) => {
    // §3.3: a redirect is not followed; only a 200 is a policy.
    if (res.statusCode !== 200) {
      res.resume();
      return done(fetchError(`https://${host}${PATH} answered HTTP ${res.statusCode ?? "?"}`));
    }
    const type = (res.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "text/plain") {
      res.resume();
      return done({
        kind: "failed",
        result: "sts-policy-invalid",
        why: `served as ${type || "no type"}, not text/plain`,
      });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      size += c.length;
      if (size > STS_POLICY_LIMIT) {
        done({ kind: "failed", result: "sts-policy-invalid", why: "policy larger than 64 KB" });
        return;
      }
      chunks.push(c);
    });
    res.on("error", (e) => done(fetchError(`reading https://${host}${PATH}: ${e.message}`)));
    res.on("end", () => {
      const parsed = parseStsPolicy(Buffer.concat(chunks).toString("utf8"));
      done(
        parsed.kind === "policy" ? parsed : { kind: "failed", result: "sts-policy-invalid", why: parsed.why },
      );
    });
  });
  req.end();
}
