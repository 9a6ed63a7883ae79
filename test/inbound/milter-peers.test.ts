// Milters against the real thing: Debian's rspamd (its proxy worker in milter mode, a config of
// this test's own in a temp dir, its DNS pointed at a loopback NXDOMAIN server) and
// clamav-milter with clamd (a signature database this test writes: an .ndb body signature for
// the EICAR test string; freshclam never runs). Both sit in front of one single node, in order:
// GTUBE is rejected by rspamd; rspamd's add-header test pattern gets X-Spam: Yes, which the
// account's Sieve script files into Junk; EICAR is rejected by ClamAV; a clean message arrives
// with both peers' headers. The configs here are the ones docs/FILTERS.md shows.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { memoryLogSink } from "../kit/log.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { waitFor } from "../kit/load.js";
import { freePort, waitForPort } from "../kit/ports.js";
import { startNxDns, type NxDns } from "../kit/dns-nx.js";
import { RSPAMD, rspamdVars, writeConfig } from "../kit/rspamd.js";

const CLAMD = "/usr/sbin/clamd";
const CLAMAV_MILTER = "/usr/sbin/clamav-milter";
const quiet = {
  out: () => undefined,
  err: (t: string) => void process.stderr.write(t + "\n"),
  env: {},
  cwd: tmpdir(),
};

// The test strings are built from pieces so that no scanner flags this source file.
const GTUBE = ["XJS*C4JDBQADN1.NSBN3*2IDNEN", "GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"].join("*");
// rspamd's enable_test_patterns: the Y variant asks for the "add header" action.
const GTUBE_ADD_HEADER = "Y" + GTUBE.slice(1);
const EICAR = ["X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR", "STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"].join("-");

let tmp = "";
let dns: NxDns;
let node: RunningNode;
let dataDir = "";
const children: ChildProcess[] = [];
const logs = memoryLogSink();

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

function run(bin: string, args: string[], out: string): ChildProcess {
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  child.stdout?.on("data", (d: Buffer) => (text = (text + d.toString()).slice(-4000)));
  child.stderr?.on("data", (d: Buffer) => (text = (text + d.toString()).slice(-4000)));
  child.once("exit", (code) => void writeFile(out, `${text}\nexit ${code}\n`).catch(() => undefined));
  children.push(child);
  return child;
}
// If the test process ends without its after hook (killed by the runner), the peers go too.
process.once("exit", () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

before(async () => {
  for (const bin of [RSPAMD, CLAMD, CLAMAV_MILTER]) {
    assert.ok(
      existsSync(bin),
      `${bin} missing: scripts/test-peers.sh installs rspamd, clamav-daemon, clamav-milter`,
    );
  }
  tmp = await mkdtemp(join(tmpdir(), "mailyard-milter-peers-"));
  dns = await startNxDns();

  const rdir = join(tmp, "rspamd");
  await mkdir(rdir);
  const rspamdPort = await freePort();
  await writeConfig(rdir, rspamdPort, dns.port);
  run(
    RSPAMD,
    ["-f", "-u", "root", "-g", "root", "-i", "-c", join(rdir, "rspamd.conf"), ...rspamdVars(rdir)],
    join(rdir, "stdout.log"),
  );

  const cdir = join(tmp, "clamav");
  await mkdir(join(cdir, "db"), { recursive: true });
  // An .ndb body signature (name:target:offset:hex): target 0 = any file, * = anywhere.
  await writeFile(
    join(cdir, "db", "eicar.ndb"),
    `Mailyard.Test.EICAR:0:*:${Buffer.from("EICAR-STANDARD-ANTIVIRUS-TEST-FILE").toString("hex")}\n`,
  );
  const sock = join(cdir, "clamd.sock");
  await writeFile(
    join(cdir, "clamd.conf"),
    [
      "Foreground yes",
      `LocalSocket ${sock}`,
      `DatabaseDirectory ${join(cdir, "db")}`,
      `LogFile ${join(cdir, "clamd.log")}`,
      `PidFile ${join(cdir, "clamd.pid")}`,
      `TemporaryDirectory ${cdir}`,
      "",
    ].join("\n"),
  );
  run(CLAMD, ["-c", join(cdir, "clamd.conf")], join(cdir, "stdout.log"));
  const clamPort = await freePort();
  await writeFile(
    join(cdir, "clamav-milter.conf"),
    [
      "Foreground yes",
      `MilterSocket inet:${clamPort}@127.0.0.1`,
      `ClamdSocket unix:${sock}`,
      "OnInfected Reject",
      "OnFail Defer",
      "AddHeader Replace",
      `LogFile ${join(cdir, "milter.log")}`,
      `PidFile ${join(cdir, "milter.pid")}`,
      "User root",
      "",
    ].join("\n"),
  );
  await waitFor("clamd's socket", () => existsSync(sock), 120_000);
  run(CLAMAV_MILTER, ["-c", join(cdir, "clamav-milter.conf")], join(cdir, "milter-stdout.log"));
  // rspamd compiles its regular expressions (hyperscan) before it listens: allow for that.
  await waitForPort(rspamdPort, 240_000);
  await waitForPort(clamPort, 60_000);

  dataDir = join(tmp, "node");
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: {
      listen: ["127.0.0.1:0"],
      milters: [`inet:127.0.0.1:${rspamdPort}`, `inet:127.0.0.1:${clamPort}`],
    },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: logs });
  const sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal(await cli(["domain", "add", "example.test", ...sets], quiet), 0);
  assert.equal(await cli(["account", "add", "alice@example.test", "--password", "pw", ...sets], quiet), 0);
  const script = join(tmp, "alice.sieve");
  await writeFile(script, 'require ["fileinto"];\nif header :contains "X-Spam" "Yes" { fileinto "Junk"; }\n');
  assert.equal(await cli(["sieve", "put", "alice@example.test", script, ...sets], quiet), 0);
});

after(async () => {
  // The peers are stopped whatever happened to the node, so none outlives the test.
  try {
    await node?.stop();
  } finally {
    for (const c of children) await stop(c);
    await dns?.stop();
    if (tmp !== "") await rm(tmp, { recursive: true, force: true });
  }
});

const files = async (sub: string): Promise<string[]> => {
  const dir = join(dataDir, "mail", "example.test", "alice", sub);
  const names = await readdir(dir).catch(() => [] as string[]);
  return Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
};

async function send(subject: string, body: string): Promise<string> {
  const c = await SmtpClient.connect(node.smtp[0]!.port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<sender@remote.test>", 250);
    await c.cmd("RCPT TO:<alice@example.test>", 250);
    await c.cmd("DATA", 354);
    c.send(
      `From: Sender <sender@remote.test>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n` +
        `Message-ID: <${subject.replace(/\W/g, "")}@remote.test>\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\n` +
        `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n${body}\r\n.\r\n`,
    );
    const r = await c.reply(200_000);
    await c.cmd("QUIT");
    return r?.raw.trimEnd() ?? "(closed)";
  } finally {
    c.close();
  }
}

void test("rspamd rejects GTUBE at end of data; nothing is stored", async () => {
  assert.match(await send("gtube", `Test message.\r\n${GTUBE}\r\n`), /^554 5\.7\.1 /);
  assert.deepEqual(await files("new"), []);
});

void test("ClamAV rejects EICAR (after rspamd let it pass)", async () => {
  assert.match(await send("eicar", `${EICAR}\r\n`), /^5\d\d /);
  assert.deepEqual(await files("new"), []);
});

void test("rspamd's add-header verdict sets X-Spam: Yes and Sieve files it into Junk", async () => {
  assert.match(await send("marked", `Test message.\r\n${GTUBE_ADD_HEADER}\r\n`), /^250 /);
  await waitFor("the message in Junk", async () => (await files(".Junk/new")).length === 1, 60_000);
  const [m] = await files(".Junk/new");
  assert.match(m!, /\r\nX-Spam: Yes\r\n/);
});

void test("a clean message passes both with their headers", async () => {
  assert.match(await send("lunch", "Shall we have lunch tomorrow at noon?\r\n"), /^250 /);
  await waitFor("the message in INBOX", async () => (await files("new")).length === 1, 60_000);
  const [m] = await files("new");
  assert.match(m!, /\r\nX-Spamd-Result: default: False/);
  assert.match(m!, /\r\nX-Virus-Status: Clean/);
  assert.match(m!, /Shall we have lunch tomorrow at noon\?/);
  assert.ok(dns.queries() >= 0);
  assert.ok(
    logs.records.filter((r) => r.text === "milter verdicts").length >= 4,
    "one verdict line per message",
  );
});
