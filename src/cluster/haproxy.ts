// A complete haproxy.cfg that spreads SMTP connections over the live frontends and tells them the
// real client with the PROXY protocol (the frontends must list the balancer in
// smtp.proxyProtocolFrom). Text only, no I/O: `mailyard lb-config haproxy` prints it and
// `mailyard cluster up` runs HAProxy with it.
//
// Choices: TCP mode (HAProxy does not speak SMTP here), leastconn (SMTP sessions are long and
// uneven), timeouts longer than the frontends' own so Mailyard, not the balancer, ends idle
// sessions with a proper 421; an SMTP health check so a frontend that accepts TCP but does not
// greet is taken out; retries with redispatch so a frontend that refuses the connection is
// skipped. Nothing is logged (HAProxy's logs need syslog; Mailyard logs the real client itself).
//
// Port 465 (implicit TLS submission, RFC 8314) is a second frontend/backend pair, also TCP: the
// TLS passes through untouched (the frontends hold the certificate and see the AUTH), the PROXY
// header goes first in clear, as on port 25. Its health check makes its own handshake and expects
// the greeting inside it; it does not verify the frontend's certificate (a check, not a client:
// the balancer holds no CA for it, and a frontend that answers is what it asks about).
import { formatHostPort, parseHostPort, type HostPort } from "../proto/hostport.js";

export interface HaproxyFrontend {
  /** Node id; becomes the HAProxy server name. */
  readonly id: string;
  /** The frontend's SMTP listener, host:port as the balancer reaches it. */
  readonly smtp: string;
  /** Its submissions (implicit TLS) listener; absent or "": left out of the port 465 backend. */
  readonly submissions?: string;
}

export interface HaproxyConfigOptions {
  /** Where HAProxy accepts SMTP clients, host:port. */
  readonly listen: string;
  /** Where HAProxy accepts implicit-TLS submission clients (port 465), host:port; absent: not at all. */
  readonly submissionsListen?: string;
  readonly frontends: readonly HaproxyFrontend[];
  /** send-proxy (v1, text) or send-proxy-v2 (binary). */
  readonly proxyVersion: 1 | 2;
  /** Concurrent client connections HAProxy accepts (default 2000). */
  readonly maxconn?: number;
  /**
   * Concurrent connections one client address may hold (the frontends' smtp.maxConnectionsPerIp
   * counts per TCP peer, which behind the balancer is the balancer); absent: no such limit.
   */
  readonly maxConnectionsPerClient?: number;
  /** host:port for HAProxy's statistics page (HTTP); absent: none. */
  readonly statsListen?: string;
  /**
   * Local address HAProxy connects to the frontends from (its `source`); absent: the kernel's
   * choice. `cluster up` uses 127.0.0.2 so frontends can require PROXY headers from the balancer
   * alone and still take direct loopback clients from 127.0.0.1.
   */
  readonly source?: string;
}

const DEFAULT_MAXCONN = 2000;

/** The haproxy.cfg text; throws on an unusable address or maxconn (the caller's mistake). */
export function renderHaproxyConfig(o: HaproxyConfigOptions): string {
  const maxconn = o.maxconn ?? DEFAULT_MAXCONN;
  if (!Number.isInteger(maxconn) || maxconn < 1) throw new Error(`maxconn must be a positive integer`);
  const perClient = o.maxConnectionsPerClient;
  if (perClient !== undefined && (!Number.isInteger(perClient) || perClient < 1)) {
    throw new Error(`maxConnectionsPerClient must be a positive integer`);
  }
  const names = serverNames(o.frontends.map((f) => f.id));
  const send = o.proxyVersion === 2 ? "send-proxy-v2" : "send-proxy";
  const server = (i: number, text: string, extra = ""): string => {
    const id = o.frontends[i]?.id ?? "";
    const at = address(`frontend ${id}`, text);
    if (isWildcard(at.host)) {
      throw new Error(`frontend ${id}: ${text} is a wildcard address; the balancer needs one it can reach`);
    }
    return `    server ${names[i] ?? id} ${formatHostPort(at)} check${extra} ${send}`;
  };
  // Counted per real client (IPv4 is stored mapped into IPv6); over the limit: dropped at once.
  const perClientLines =
    perClient !== undefined
      ? [
          "    stick-table type ipv6 size 100k expire 30m store conn_cur",
          "    tcp-request connection track-sc0 src",
          `    tcp-request connection reject if { sc0_conn_cur gt ${perClient} }`,
        ]
      : [];
  // A TCP frontend and its backend of checked servers (on 465, the check runs inside the check's
  // own TLS handshake: check-ssl on each server). The check connection carries the PROXY header
  // too (HAProxy's default with send-proxy).
  const pair = (name: string, backend: string, bind: HostPort, servers: readonly string[]): string[] => [
    "",
    `frontend ${name}`,
    `    bind ${formatHostPort(bind)}`,
    `    maxconn ${maxconn}`,
    ...perClientLines,
    `    default_backend ${backend}`,
    "",
    `backend ${backend}`,
    "    balance leastconn",
    ...(o.source !== undefined ? [`    source ${sourceAddress(o.source)}`] : []),
    "    option smtpchk EHLO localhost",
    "    default-server inter 5s fall 2 rise 2",
    ...(servers.length > 0 ? servers : ["    # no live frontends: every connection is refused"]),
  ];
  const smtpServers = o.frontends.map((f, i) => server(i, f.smtp));
  const lines = [
    "# Generated by Mailyard (mailyard lb-config haproxy). SMTP over TCP with the PROXY protocol",
    `# v${o.proxyVersion}: the frontends must list this balancer's address in smtp.proxyProtocolFrom.`,
    "global",
    `    maxconn ${maxconn}`,
    "",
    "defaults",
    "    mode tcp",
    "    timeout connect 5s",
    // Longer than Mailyard's idle timeout (5 min) and the 10 min a client waits after DATA.
    "    timeout client 15m",
    "    timeout server 15m",
    "    timeout client-fin 30s",
    "    timeout server-fin 30s",
    "    timeout queue 30s",
    "    timeout check 10s",
    "    retries 2",
    "    option redispatch",
    ...pair("mailyard_smtp", "mailyard_frontends", address("listen", o.listen), smtpServers),
  ];
  if (o.submissionsListen !== undefined) {
    const servers = o.frontends.flatMap((f, i) =>
      f.submissions === undefined || f.submissions === ""
        ? []
        : [server(i, f.submissions, " check-ssl verify none")],
    );
    lines.push(
      ...pair(
        "mailyard_submissions",
        "mailyard_frontends_submissions",
        address("submissionsListen", o.submissionsListen),
        servers,
      ),
    );
  }
  if (o.statsListen !== undefined) {
    const stats = address("statsListen", o.statsListen);
    lines.push(
      "",
      "listen stats",
      "    mode http",
      `    bind ${formatHostPort(stats)}`,
      "    timeout client 30s",
      "    stats enable",
      "    stats uri /",
      "    stats refresh 10s",
    );
  }
  return `${lines.join("\n")}\n`;
}

function address(what: string, text: string): HostPort {
  let at: HostPort;
  try {
    at = parseHostPort(text);
  } catch {
    throw new Error(`${what}: "${text}" is not host:port`);
  }
  // Anything else would be read by HAProxy as more keywords on the line.
  if (!/^[A-Za-z0-9.:-]+$/.test(at.host) || at.port === 0) {
    throw new Error(`${what}: "${text}" is not a usable host:port`);
  }
  return at;
}

function sourceAddress(text: string): string {
  // Same character rule as address(): anything else would be more keywords to HAProxy.
  if (!/^[A-Za-z0-9.:]+$/.test(text)) throw new Error(`source: "${text}" is not an address`);
  return text;
}

const isWildcard = (host: string): boolean => host === "0.0.0.0" || /^[0:]+$/.test(host);

/** HAProxy server names: node ids made safe for the config and unique. */
function serverNames(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  return ids.map((id) => {
    const base = id.replace(/[^A-Za-z0-9._-]/g, "_") || "frontend";
    let name = base;
    for (let n = 2; seen.has(name); n++) name = `${base}-${n}`;
    seen.add(name);
    return name;
  });
}
