// `mailyard lb-config haproxy`: prints a working haproxy.cfg for the live frontends (the caller
// reads them from the cluster state). The config goes to stdout so it can be redirected into a
// file; warnings go to stderr so they never end up in it.
import { renderHaproxyConfig, type HaproxyFrontend } from "../cluster/haproxy.js";
import { CliError, UsageError, type CliIo } from "./io.js";

/** Where the balancer takes SMTP clients unless told otherwise. */
export const DEFAULT_LB_LISTEN = "0.0.0.0:25";
/** Where it takes implicit-TLS submission clients, when a live frontend has such a listener. */
export const DEFAULT_LB_SUBMISSIONS_LISTEN = "0.0.0.0:465";

export interface LbConfigArgs {
  /** Live frontends: node id and the SMTP (and submissions) host:port the balancer connects to. */
  readonly frontends: readonly HaproxyFrontend[];
  /** Default DEFAULT_LB_LISTEN. */
  readonly listen?: string;
  /**
   * Port 465's address; "" for none. Default DEFAULT_LB_SUBMISSIONS_LISTEN when a frontend
   * publishes a submissions listener, else none.
   */
  readonly submissionsListen?: string;
  /** Default 2 (binary; cheaper to parse and carries IPv6 without text forms). */
  readonly proxyVersion?: 1 | 2;
  readonly maxconn?: number;
  readonly maxConnectionsPerClient?: number;
  readonly statsListen?: string;
}

export function lbConfigHaproxyCommand(io: CliIo, a: LbConfigArgs): void {
  const withSubmissions = a.frontends.some((f) => f.submissions !== undefined && f.submissions !== "");
  const submissionsListen = a.submissionsListen ?? (withSubmissions ? DEFAULT_LB_SUBMISSIONS_LISTEN : "");
  let text: string;
  try {
    text = renderHaproxyConfig({
      listen: a.listen ?? DEFAULT_LB_LISTEN,
      ...(submissionsListen !== "" ? { submissionsListen } : {}),
      frontends: a.frontends,
      proxyVersion: a.proxyVersion ?? 2,
      ...(a.maxconn !== undefined ? { maxconn: a.maxconn } : {}),
      ...(a.maxConnectionsPerClient !== undefined
        ? { maxConnectionsPerClient: a.maxConnectionsPerClient }
        : {}),
      ...(a.statsListen !== undefined ? { statsListen: a.statsListen } : {}),
    });
  } catch (e) {
    throw new CliError(`lb-config: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (a.frontends.length === 0)
    io.err("warning: no live frontends; the balancer will refuse every connection");
  else if (submissionsListen !== "" && !withSubmissions)
    io.err(
      `warning: no live frontend has a submissions listener; the balancer will refuse every connection on ${submissionsListen}`,
    );
  io.err("note: each frontend needs the balancer's address in smtp.proxyProtocolFrom");
  io.out(text);
}

/** "--proxy-version" as given on the command line. */
export function parseProxyVersion(text: string | undefined): 1 | 2 {
  if (text === undefined || text === "2" || text === "v2") return 2;
  if (text === "1" || text === "v1") return 1;
  throw new UsageError(`lb-config: proxy version must be 1 or 2, not "${text}"`);
}
