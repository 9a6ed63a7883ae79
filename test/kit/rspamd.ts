// rspamd as a real milter peer: the config the milter tests and the benchmark share (its proxy
// worker in milter mode, self-scanning, test patterns on, result headers on every message, its
// DNS pointed at a loopback server such as dns-nx.ts), and a way to start it in a directory of
// the caller's own. Nothing outside that directory is read or written besides Debian's stock
// $CONFDIR; the caller stops the process.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const RSPAMD = "/usr/bin/rspamd";

/** rspamd.conf for the proxy worker in milter mode, self-scanning (no separate normal worker). */
export const rspamdConf = (dir: string, port: number, dnsPort: number): string =>
  [
    '.include "$CONFDIR/common.conf"',
    "options {",
    `  pidfile = "${dir}/rspamd.pid";`,
    '  .include "$CONFDIR/options.inc"',
    // Loopback clients are scanned like any other (rspamd skips some checks for local_addrs).
    "  local_addrs = [];",
    "  enable_test_patterns = true;",
    `  dns { nameserver = ["127.0.0.1:${dnsPort}"]; timeout = 1s; retransmits = 1; }`,
    "}",
    `logging { type = "file"; filename = "${dir}/rspamd.log"; level = "notice"; }`,
    'worker "rspamd_proxy" {',
    `  bind_socket = "127.0.0.1:${port}";`,
    "  milter = yes;",
    "  timeout = 120s;",
    "  count = 1;",
    '  upstream "local" { default = yes; self_scan = yes; }',
    "}",
    // The result headers on every message, loopback and authenticated senders included.
    "milter_headers {",
    '  use = ["x-spamd-result", "x-rspamd-server", "x-spam-status"];',
    "  skip_local = false;",
    "  skip_authenticated = false;",
    "}",
    "",
  ].join("\n");

/**
 * rspamd's --var options: its state in `dir`, and its local.d/override.d there too (not the
 * system's /etc/rspamd), where writeConfig turns fuzzy_check off: that module resolves its
 * servers (fuzzy1.rspamd.com) with the system resolver, not the configured DNS, so it would
 * send a query off the machine; with no server reachable it checks nothing anyway. It turns the
 * rbl module off too: its DNS blocklist lookups (about 6 per message) waited on rspamd's 1 s DNS
 * timeout for the messages Postfix handed it (task times of 1.0, 2.0, 3.0 s in rspamd's log,
 * Postfix through rspamd at 9 msg/s) while it made none for Mailyard's; with no blocklist
 * reachable here they decide nothing either, and both MTAs now get the same rspamd work.
 */
export const rspamdVars = (dir: string): string[] =>
  ["DBDIR", "RUNDIR", "LOGDIR", "LOCAL_CONFDIR"].flatMap((v) => ["--var", `${v}=${dir}`]);

/** rspamd.conf and local.d/ in `dir`. */
export async function writeConfig(dir: string, port: number, dnsPort: number): Promise<void> {
  await writeFile(join(dir, "rspamd.conf"), rspamdConf(dir, port, dnsPort));
  await mkdir(join(dir, "local.d"), { recursive: true });
  await writeFile(join(dir, "local.d", "fuzzy_check.conf"), "enabled = false;\n");
  await writeFile(join(dir, "local.d", "rbl.conf"), "enabled = false;\n");
}

/**
 * Writes the config into `dir` and starts rspamd in the foreground (as root, its state in `dir`).
 * It listens on `port` only after compiling its expressions: wait for the port (minutes, cold).
 */
export async function spawnRspamd(dir: string, port: number, dnsPort: number): Promise<ChildProcess> {
  await writeConfig(dir, port, dnsPort);
  return spawn(
    RSPAMD,
    ["-f", "-u", "root", "-g", "root", "-i", "-c", join(dir, "rspamd.conf"), ...rspamdVars(dir)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
}
