// rspamd as a real milter peer: the config the milter tests and the benchmark share (its proxy
// worker in milter mode, self-scanning, test patterns on, result headers on every message, its
// DNS pointed at a loopback server such as dns-nx.ts), and a way to start it in a directory of
// the caller's own. Nothing outside that directory is read or written besides Debian's stock
// $CONFDIR; the caller stops the process.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
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
 * Writes the config into `dir` and starts rspamd in the foreground (as root, its state in `dir`).
 * It listens on `port` only after compiling its expressions: wait for the port (minutes, cold).
 */
export async function spawnRspamd(dir: string, port: number, dnsPort: number): Promise<ChildProcess> {
  await writeFile(join(dir, "rspamd.conf"), rspamdConf(dir, port, dnsPort));
  return spawn(
    RSPAMD,
    [
      "-f",
      "-u",
      "root",
      "-g",
      "root",
      "-i",
      "-c",
      join(dir, "rspamd.conf"),
      ...["DBDIR", "RUNDIR", "LOGDIR"].flatMap((v) => ["--var", `${v}=${dir}`]),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
}
