// Configuration errors stop `mailyard start` with exit 2 and one line naming the setting (as a
// usage error does), never exit 1 or a stack: a supervisor can tell "fix the config" from a crash.
// Each kind: a value the schema refuses at load (smarthost entries and flags, networks, ports),
// a file a setting names that is missing, too open or malformed (found at start), and a setting
// only the role's start can judge. The node must not start: each run is bounded, and killed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** `mailyard start` with the sets; its exit code and stderr. Killed (and failed) after 30 s. */
function start(sets: readonly string[]): Promise<{ code: number | null; err: string; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [join(root, "bin/mailyard.js"), "start", ...sets.flatMap((s) => ["--set", s])],
      { cwd: tmpdir(), env: { PATH: process.env["PATH"] ?? "" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`start still running after 30 s (it should have refused): ${out}${err}`));
    }, 30_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, err, out });
    });
  });
}

void test("start: every kind of configuration error exits 2 with one line naming the setting", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-start-config-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const base = [
    `dataDir=${join(dir, "data")}`,
    "smtp.listen=127.0.0.1:0",
    "submission.listen=",
    "submissions.listen=",
    "pop3.listen=",
    "http.listen=127.0.0.1:0",
  ];
  const file = async (name: string, text: string, mode: number): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    await chmod(path, mode);
    return path;
  };
  const open = await file("auth-open", "user:secret\n", 0o644);
  const noColon = await file("auth-bad", "user-without-password\n", 0o600);
  const notPem = await file("ca-bad.pem", "not a certificate\n", 0o644);
  const member = [`state.url=${join(dir, "state.db")}`, "cluster.secret=a-long-enough-cluster-secret-42"];

  const cases: [sets: string[], err: RegExp][] = [
    // Smarthost relaying: refused at load, by the schema.
    [["smtp.forwardTo=relay.test:99999"], /smtp\.forwardTo.*"relay\.test:99999" is not host\[:port\] or \*/],
    [["smtp.forwardTo=bad::address"], /smtp\.forwardTo.*"bad::address" is not host\[:port\] or \*/],
    [["smtp.forwardTls=sometimes"], /smtp\.forwardTls.*expected one of/],
    [["smtp.forwardVerify=maybe"], /smtp\.forwardVerify.*expected true or false/],
    // Smarthost files: read when the relay is made, at start.
    [["smtp.forwardCaFile=/nonexistent/ca.pem"], /cannot start: smtp\.forwardCaFile: cannot read .*ENOENT/],
    [[`smtp.forwardCaFile=${notPem}`], /cannot start: smtp\.forwardCaFile: .* holds no PEM certificate/],
    [["smtp.forwardAuthFile=/nonexistent/auth"], /cannot start: smtp\.forwardAuthFile: cannot read .*ENOENT/],
    [
      [`smtp.forwardAuthFile=${open}`],
      /smtp\.forwardAuthFile: .* may be read by group or others \(mode 0644\)/,
    ],
    [[`smtp.forwardAuthFile=${noColon}`], /smtp\.forwardAuthFile: .* must hold username:password/],
    // Other settings checked at load or at start, the same way.
    [["smtp.relayNetworks=10.0.0.0/"], /smtp\.relayNetworks.*"10\.0\.0\.0\/" has a bad prefix length/],
    [["smtp.proxyProtocolFrom=balancer.test"], /smtp\.proxyProtocolFrom.*is not an IP address or CIDR/],
    [["smtp.listen=127.0.0.1:99999"], /smtp\.listen.*port up to 65535/],
    [["smtp.tls.cert=/nonexistent/cert.pem"], /cannot start: smtp\.tls needs both cert and key/],
    [
      ["smtp.tls.cert=/nonexistent/cert.pem", "smtp.tls.key=/nonexistent/key.pem"],
      /cannot start: smtp\.tls\.cert: cannot read .*ENOENT/,
    ],
    [
      ["role=backend", "node.id=b1", "cluster.secretFile=/nonexistent/secret", "cluster.secret=", member[0]!],
      /cluster\.secretFile: cannot read/,
    ],
    [
      ["role=frontend", "node.id=f1", member[0]!, "cluster.secret=short"],
      /cluster\.secret must be at least 16/,
    ],
    [["role=frontend", "node.id=f1", ...member, "smtp.forwardTo=*"], /smtp\.forwardTo "\*".*is for backends/],
  ];
  for (const [sets, re] of cases) {
    const r = await start([...base, ...sets]);
    const what = sets.join(" ");
    assert.equal(r.code, 2, `${what}: ${r.err}${r.out}`);
    assert.match(r.err, re, what);
    assert.match(r.err, /^mailyard: [^\n]+\n$/, `${what}: one line on stderr`);
    assert.doesNotMatch(r.out, / SYSTEM-\d+\(\) started /, `${what}: never started`);
  }
});
