// Where a remote route's mail may go: the MX hosts of the recipient domain in preference order
// (RFC 5321 §5.1), or the configured forwarding hosts in the order given. DNS answers are
// untrusted input: NXDOMAIN and a null MX (RFC 7505) are positive evidence and bounce; any other
// DNS trouble, and any route key we cannot read, is temporary.
import net from "node:net";
import type { Settings } from "../../config/settings.js";
import { parseHostPort } from "../../proto/hostport.js";
import { REPLIES, type Reply } from "../../proto/reply.js";
import type { Resolver } from "../../world/resolver.js";

export interface TargetHost {
  readonly name: string;
  readonly port: number;
  /** The domain itself, used because it has no MX records (NODATA). */
  readonly implicit: boolean;
  /** A live frontend standing for "*" in smtp.forwardTo: a cluster member, not an outside MTA. */
  readonly member?: boolean;
  /** A host:port of smtp.forwardTo (not a frontend for "*", not an MX): smtp.forwardTls etc. apply. */
  readonly smarthost: boolean;
}

export type Targets =
  | { readonly kind: "hosts"; readonly hosts: readonly TargetHost[] }
  /** No host to try: every recipient of the route gets this reply (scope destination). */
  | { readonly kind: "none"; readonly reply: Reply; readonly permanent: boolean };

/**
 * The live frontends' SMTP addresses (host:port), for a "*" entry in smtp.forwardTo on a backend;
 * the caller rotates the list so that consecutive deliveries spread over the frontends.
 */
export type FrontendList = () => readonly string[];

export async function resolveTargets(
  routeKey: string,
  settings: Settings,
  resolver: Resolver,
  frontends: FrontendList = () => [],
): Promise<Targets> {
  const colon = routeKey.indexOf(":");
  const kind = routeKey.slice(0, colon);
  const rest = routeKey.slice(colon + 1);
  if (kind === "relay" && rest !== "") return mxTargets(rest, settings.smtp.outbound.port, resolver);
  if (kind === "forward") {
    const configured = rest === "*" ? settings.smtp.forwardTo : [rest];
    // "*" stands for every live frontend, in the order given (first choice first, the rest as failover).
    const list = configured.flatMap((e) =>
      e.trim() === "*"
        ? frontends().map((f) => ({ entry: f, smarthost: false, member: true }))
        : [{ entry: e, smarthost: true, member: false }],
    );
    // RFC 8314 §3.3: implicit TLS submission is port 465.
    const defaultPort = settings.smtp.forwardTls === "implicit" ? 465 : 25;
    const hosts: TargetHost[] = [];
    for (const { entry, smarthost, member } of list) {
      try {
        const hp = parseHostPort(entry, smarthost ? defaultPort : 25);
        hosts.push({
          name: hp.host,
          port: hp.port,
          implicit: false,
          smarthost,
          ...(member ? { member } : {}),
        });
      } catch {
        // An unreadable entry is skipped; the others may still work.
      }
    }
    if (hosts.length > 0) return { kind: "hosts", hosts };
    const why = configured.some((e) => e.trim() === "*")
      ? "no live frontend for smtp.forwardTo *"
      : `no usable forwarding host in smtp.forwardTo for route ${routeKey}`;
    return none(REPLIES.routeFailed({ why }), false);
  }
  return none(REPLIES.unknownRoute({ route: routeKey }), false);
}

async function mxTargets(domain: string, port: number, resolver: Resolver): Promise<Targets> {
  // A domain literal ("[192.0.2.1]") names the host itself; no MX lookup (RFC 5321 §4.1.3).
  const literal = /^\[(?:IPv6:)?([0-9a-fA-F:.]+)\]$/.exec(domain)?.[1];
  if (literal !== undefined && net.isIP(literal) !== 0)
    return { kind: "hosts", hosts: [{ name: literal, port, implicit: false, smarthost: false }] };
  const mx = await resolver.resolveMx(domain);
  switch (mx.kind) {
    case "nxdomain":
      return none(REPLIES.domainNotFound({ domain }), true);
    case "temporary":
      return none(REPLIES.mxLookupFailed({ domain, error: mx.error }), false);
    case "nodata":
      return { kind: "hosts", hosts: [{ name: domain, port, implicit: true, smarthost: false }] };
    case "ok": {
      const isNull = (x: string): boolean => x === "" || x === ".";
      if (mx.records.length === 1 && mx.records.every((r) => isNull(r.exchange))) {
        return none(REPLIES.nullMx({ domain }), true);
      }
      const records = mx.records.filter((r) => !isNull(r.exchange));
      if (records.length === 0)
        return { kind: "hosts", hosts: [{ name: domain, port, implicit: true, smarthost: false }] };
      // Stable sort: equal preferences keep the resolver's order (already randomised by DNS).
      const sorted = [...records].sort((a, b) => a.priority - b.priority);
      return {
        kind: "hosts",
        hosts: sorted.map((r) => ({
          name: r.exchange.replace(/\.$/, ""),
          port,
          implicit: false,
          smarthost: false,
        })),
      };
    }
  }
}

const none = (reply: Reply, permanent: boolean): Targets => ({ kind: "none", reply, permanent });
