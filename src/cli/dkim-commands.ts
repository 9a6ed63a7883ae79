// dkim commands: make, list and remove the DKIM signing keys in the shared state (SQLite file
// or PostgreSQL), which single servers and frontends sign with (src/delivery/dkim/). keygen
// prints only the TXT record's text on stdout, so it can go straight into a zone file or a DNS
// API; where to publish it goes to stderr. Private keys are never printed.
import type { Settings } from "../config/settings.js";
import {
  DKIM_ALGORITHMS,
  defaultSelector,
  dnsName,
  dnsRecord,
  generateDkimKey,
  isDomain,
  isSelector,
  type DkimAlgorithm,
} from "../delivery/dkim/keys.js";
import type { DkimKeyStore } from "../delivery/dkim/store.js";
import { openDkimStoreFor } from "../server/state-stores.js";
import { CliError, UsageError, type CliIo } from "./io.js";
import { withOpened } from "./opened.js";

const withStore = <T>(settings: Settings, fn: (s: DkimKeyStore) => Promise<T>): Promise<T> =>
  withOpened(() => openDkimStoreFor(settings, () => Date.now()), fn);

export async function dkimCommand(
  settings: Settings,
  io: CliIo,
  verb: string,
  args: readonly string[],
  o: { selector?: string | undefined; algorithm?: string | undefined; json?: boolean | undefined },
): Promise<void> {
  const domain = (args[0] ?? "").toLowerCase().replace(/\.$/, "");
  if (verb === "list") {
    const keys = await withStore(settings, (s) => s.list());
    const rows = keys.map((k) => ({
      domain: k.domain,
      selector: k.selector,
      algorithm: k.algorithm,
      dns: dnsName(k),
      created: new Date(k.createdAt).toISOString(),
    }));
    if (o.json === true) io.out(JSON.stringify(rows, null, 2));
    else for (const r of rows) io.out(`${r.domain}\t${r.selector}\t${r.algorithm}\t${r.dns}\t${r.created}`);
    return;
  }
  if (!isDomain(domain)) throw new UsageError(`dkim ${verb}: not a domain name: ${args[0] ?? ""}`);
  const selector = o.selector?.toLowerCase();
  if (selector !== undefined && !isSelector(selector)) throw new UsageError(`not a selector: ${selector}`);
  if (verb === "keygen") {
    const algorithm = (o.algorithm ?? "rsa").toLowerCase();
    if (!DKIM_ALGORITHMS.includes(algorithm as DkimAlgorithm))
      throw new UsageError("--algorithm is rsa or ed25519");
    const now = Date.now();
    const key = generateDkimKey(domain, selector ?? defaultSelector(now), algorithm as DkimAlgorithm, now);
    if (!(await withStore(settings, (s) => s.add(key))))
      throw new CliError(
        `${domain} already has a key with selector ${key.selector} (choose another --selector)`,
      );
    io.err(`publish this TXT record at ${dnsName(key)}:`);
    io.out(dnsRecord(key));
    return;
  }
  if (verb === "remove") {
    const n = await withStore(settings, (s) => s.remove(domain, selector));
    if (n === 0)
      throw new CliError(`no DKIM key for ${domain}${selector !== undefined ? ` selector ${selector}` : ""}`);
    io.err(`removed ${n} key${n === 1 ? "" : "s"}`);
    return;
  }
  throw new UsageError(`unknown command: dkim ${verb}`);
}
