// Debian's Unbound as a DNSSEC-validating resolver on loopback, for DANE: it serves one zone
// signed here at test time (ldns-keygen and ldns-signzone from ldnsutils, installed by
// scripts/test-peers.sh) as an auth-zone for upstream use, so its answers go through the
// validator, with the zone's key as trust anchor: the AD bit on its answers is real. A second,
// unsigned zone is declared insecure (answers without AD). Nothing else is answered or
// forwarded (never real DNS). Started on a free port, ready when its TCP port accepts, stopped
// by the test.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./ports.js";
import { runUnbound, serverLines } from "./unbound.js";

const run = promisify(execFile);

export interface DnssecUnbound {
  /** "127.0.0.1:PORT", for smtp.outbound.daneResolver. */
  readonly address: string;
  stop(): Promise<void>;
}

export interface DnssecZones {
  /** The signed zone's name, e.g. "dane.test". */
  readonly signed: string;
  /** Its records in zone-file syntax with absolute names ("a.dane.test. 300 IN A 127.0.0.1"). */
  readonly signedRecords: readonly string[];
  /** An unsigned zone answered without AD, with its records as local-data lines. */
  readonly insecure: string;
  readonly insecureRecords: readonly string[];
}

export async function startDnssecUnbound(z: DnssecZones): Promise<DnssecUnbound> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-dnssec-"));
  const zone = `${z.signed}.`;
  const zoneFile = join(dir, "zone");
  await writeFile(
    zoneFile,
    [
      `${zone} 300 IN SOA ns.${zone} hostmaster.${zone} 1 3600 600 86400 300`,
      `${zone} 300 IN NS ns.${zone}`,
      `ns.${zone} 300 IN A 127.0.0.1`,
      ...z.signedRecords,
      "",
    ].join("\n"),
  );
  const keygen = async (...args: string[]): Promise<string> =>
    (await run("ldns-keygen", [...args, "-a", "ECDSAP256SHA256", z.signed], { cwd: dir })).stdout.trim();
  const ksk = await keygen("-k");
  const zsk = await keygen();
  await run("ldns-signzone", ["-n", "-f", `${zoneFile}.signed`, zoneFile, ksk, zsk], { cwd: dir });
  const ds = (await readdir(dir)).find((f) => f === `${ksk}.ds`);
  if (ds === undefined) throw new Error("ldns-keygen made no DS record");
  const port = await freePort();
  await writeFile(
    join(dir, "unbound.conf"),
    [
      ...serverLines(dir, port),
      '  module-config: "validator iterator"',
      `  trust-anchor-file: "${join(dir, ds)}"`,
      // RFC 6761's test. is answered by unbound itself unless told not to.
      '  local-zone: "test." nodefault',
      `  domain-insecure: "${z.insecure}."`,
      `  local-zone: "${z.insecure}." static`,
      ...z.insecureRecords.map((r) => `  local-data: "${r}"`),
      "auth-zone:",
      `  name: "${zone}"`,
      `  zonefile: "${zoneFile}.signed"`,
      "  for-upstream: yes",
      "  for-downstream: no",
      "  fallback-enabled: no",
      "remote-control:",
      "  control-enable: no",
      "",
    ].join("\n"),
  );
  const stop = await runUnbound(dir, port);
  return { address: `127.0.0.1:${port}`, stop };
}
