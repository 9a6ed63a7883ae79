// The filters of the filtered scenarios, started once per benchmark and shared by both MTAs, so
// each MTA talks to the same filter process with the same config:
// - rspamd as a milter (test/kit/rspamd.ts, the config the milter tests use), its DNS on a
//   loopback server that answers NXDOMAIN to everything (test/kit/dns-nx.ts);
// - DKIM signing with one RSA 2048 key for the sender's domain: in Mailyard's key store (a copy
//   of the directory template, as `mailyard dkim keygen` writes it), and the same key for
//   OpenDKIM as a signing milter (KeyTable/SigningTable) in front of Postfix.
// Each filter process is stopped on the way out; its CPU is read by the harness per run.
import { spawn, type ChildProcess } from "node:child_process";
import { cp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateDkimKey } from "../src/delivery/dkim/keys.js";
import { openSqliteDkimStore } from "../src/delivery/dkim/sqlite-store.js";
import { startNxDns } from "../test/kit/dns-nx.js";
import { spawnRspamd } from "../test/kit/rspamd.js";
import { onCleanup } from "./cleanup.js";
import { freePort, waitForPort } from "./ports.js";
import { SENDER } from "./workload.js";

export type FilterName = "rspamd" | "dkim";

export interface FilterPeer {
  /** Root of the filter's processes (CPU is read for it and its direct children). */
  readonly pid: number;
  /** Milter address in Postfix's and Mailyard's notation. */
  readonly postfixMilter: string;
  readonly mailyardMilter: string | null;
  /** Directory template with the DKIM key in Mailyard's store (dkim only). */
  readonly template: string | null;
}

const SELECTOR = "bench";
export const SIGNING_DOMAIN = SENDER.slice(SENDER.indexOf("@") + 1);

function watch(what: string, child: ChildProcess): { alive: () => boolean; output: () => string } {
  let text = "";
  const keep = (d: Buffer): void => void (text = (text + d.toString()).slice(-4000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  onCleanup(what, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await gone;
    clearTimeout(timer);
  });
  return { alive: () => child.exitCode === null && child.signalCode === null, output: () => text };
}

async function listening(what: string, port: number, timeoutMs: number, w: ReturnType<typeof watch>) {
  await waitForPort(port, timeoutMs, w.alive).catch((e: unknown) => {
    throw new Error(`${what} did not start: ${e instanceof Error ? e.message : String(e)}\n${w.output()}`, {
      cause: e,
    });
  });
}

export async function startRspamd(dir: string): Promise<FilterPeer> {
  await mkdir(dir, { recursive: true });
  const dns = await startNxDns();
  onCleanup("NXDOMAIN DNS server", () => dns.stop());
  const port = await freePort();
  const child = await spawnRspamd(dir, port, dns.port);
  const w = watch(`rspamd in ${dir}`, child);
  // rspamd compiles its regular expressions (hyperscan) before it listens.
  await listening("rspamd", port, 300_000, w);
  return {
    pid: child.pid!,
    postfixMilter: `inet:127.0.0.1:${port}`,
    mailyardMilter: `inet:127.0.0.1:${port}`,
    template: null,
  };
}

export async function startDkim(dir: string, template: string): Promise<FilterPeer> {
  await mkdir(dir, { recursive: true });
  const key = generateDkimKey(SIGNING_DOMAIN, SELECTOR, "rsa", Date.now());
  // Mailyard: the key in the store of a copy of the directory template (what `mailyard dkim
  // keygen` does; the copy keeps the unsigned scenarios' template keyless).
  const signed = join(dir, "mailyard-template");
  await cp(template, signed, { recursive: true });
  const store = openSqliteDkimStore(join(signed, "mailyard.db"));
  try {
    if (!(await store.add(key))) throw new Error("the DKIM key could not be stored");
  } finally {
    await store.close();
  }
  // OpenDKIM: the same private key, signing (rsa-sha256, relaxed/relaxed as Mailyard signs)
  // every message from 127.0.0.1 (its default InternalHosts) whose From: is the domain's.
  const od = join(dir, "opendkim");
  await mkdir(od);
  await writeFile(join(od, "key.pem"), key.privateKey, { mode: 0o600 });
  await writeFile(
    join(od, "KeyTable"),
    `${SELECTOR}._domainkey.${SIGNING_DOMAIN} ${SIGNING_DOMAIN}:${SELECTOR}:${join(od, "key.pem")}\n`,
  );
  await writeFile(join(od, "SigningTable"), `*@${SIGNING_DOMAIN} ${SELECTOR}._domainkey.${SIGNING_DOMAIN}\n`);
  const port = await freePort();
  await writeFile(
    join(od, "opendkim.conf"),
    [
      "Mode s",
      `KeyTable file:${join(od, "KeyTable")}`,
      `SigningTable refile:${join(od, "SigningTable")}`,
      // The key sits under the benchmark's temporary directory: a bench setup, not a deployment.
      "RequireSafeKeys no",
      `Socket inet:${port}@127.0.0.1`,
      "Canonicalization relaxed/relaxed",
      `PidFile ${join(od, "opendkim.pid")}`,
      "Background no",
      "Syslog no",
      "",
    ].join("\n"),
  );
  const child = spawn("/usr/sbin/opendkim", ["-f", "-x", join(od, "opendkim.conf")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await listening("opendkim", port, 30_000, watch(`opendkim in ${od}`, child));
  return { pid: child.pid!, postfixMilter: `inet:127.0.0.1:${port}`, mailyardMilter: null, template: signed };
}

export async function startFilter(name: FilterName, dir: string, template: string): Promise<FilterPeer> {
  return name === "rspamd" ? startRspamd(dir) : startDkim(dir, template);
}

/** main.cf lines for Postfix with the filter as its smtpd milter (Postfix's defaults spelt out). */
export const postfixMilterCf = (f: FilterPeer): string =>
  `smtpd_milters = ${f.postfixMilter}\nmilter_protocol = 6\nmilter_default_action = tempfail\n`;
