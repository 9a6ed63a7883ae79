// End to end on one node in-process: real sockets, real files, real peers. swaks sends,
// Postfix's smtp-sink receives relayed mail (and hard/soft-fails on request), the Maildir gets
// local mail, error reports reach the sender, and the CLI works through the admin API.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeResolver } from "../kit/resolver.js";
import { startSink, type Sink } from "../kit/sink.js";
import { freePort } from "../kit/ports.js";
import { waitFor } from "../kit/load.js";

const run = promisify(execFile);
let dataDir = "";
let node: RunningNode;
let good: Sink;
let hard: Sink;
let soft: Sink;
let cliSets: string[] = [];
const logs = memoryLogSink();

const mailbox = async (domain: string, user: string): Promise<string[]> => {
  const dir = join(dataDir, "mail", domain, user, "new");
  const names = await readdir(dir).catch(() => []);
  return Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
};

const swaks = (args: string[]) =>
  run("swaks", ["--server", `127.0.0.1:${node.smtp[0]!.port}`, "--timeout", "20", ...args], {
    timeout: 30_000,
  });

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mailyard-e2e-"));
  // Three sinks on one port at three loopback addresses: MX hosts of three remote domains.
  const port = await freePort();
  good = await startSink([], { host: "127.0.0.2", port });
  hard = await startSink(["-f", "rcpt"], { host: "127.0.0.3", port });
  soft = await startSink(["-r", "rcpt"], { host: "127.0.0.4", port });
  const mx = (host: string) => ({ kind: "ok" as const, records: [{ exchange: host, priority: 10 }] });
  const a = (ip: string) => ({ kind: "ok" as const, records: [ip] });
  const resolver = fakeResolver({
    mx: { "good.test": mx("mx.good.test"), "hard.test": mx("mx.hard.test"), "soft.test": mx("mx.soft.test") },
    addresses: {
      "mx.good.test": a("127.0.0.2"),
      "mx.hard.test": a("127.0.0.3"),
      "mx.soft.test": a("127.0.0.4"),
    },
  });
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"], outbound: { port, starttls: false } },
    submission: { listen: ["127.0.0.1:0"] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: logs, world: { resolver } });
  cliSets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal(await cli(["domain", "add", "example.test", ...cliSets]), 0);
  assert.equal(await cli(["account", "add", "alice@example.test", "--password", "s3cret", ...cliSets]), 0);
  assert.equal(await cli(["alias", "add", "info@example.test", "alice@example.test", ...cliSets]), 0);
});

after(async () => {
  await node?.stop();
  await Promise.all([good?.stop(), hard?.stop(), soft?.stop()]);
  await rm(dataDir, { recursive: true, force: true });
});

test("swaks delivers to a local account and through an alias into the Maildir", async () => {
  await swaks(["--from", "someone@good.test", "--to", "alice@example.test", "--header", "Subject: direct"]);
  await swaks(["--from", "someone@good.test", "--to", "info@example.test", "--header", "Subject: via-alias"]);
  await waitFor(
    "two messages in alice's Maildir",
    async () => (await mailbox("example.test", "alice")).length === 2,
  );
  const msgs = await mailbox("example.test", "alice");
  const direct = msgs.find((m) => m.includes("Subject: direct"));
  assert.ok(direct, "direct message stored");
  assert.match(direct, /^Return-Path: <someone@good\.test>\r?\nDelivered-To: alice@example\.test\r?\n/);
  assert.match(
    direct,
    /Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.test \(Mailyard\) with ESMTP id \w+\r\n\tfor <alice@example\.test>;/,
  );
  assert.ok(msgs.some((m) => m.includes("Subject: via-alias")));
});

test("unknown local recipient is refused at RCPT with 550 5.1.1", async () => {
  await assert.rejects(
    swaks(["--from", "x@good.test", "--to", "nobody@example.test"]),
    (e: { stdout: string }) => {
      assert.match(e.stdout, /<\*\* 550 5\.1\.1/);
      return true;
    },
  );
});

test("relayed mail reaches the remote MX (smtp-sink)", async () => {
  await swaks(["--from", "alice@example.test", "--to", "bob@good.test", "--header", "Subject: outbound"]);
  await waitFor("message at the good.test sink", async () => (await good.count()) === 1);
  const [dump] = await good.messages();
  assert.match(dump!, /Subject: outbound/);
});

test("a hard RCPT failure at the remote MX returns a DSN to the sender", async () => {
  const before = (await mailbox("example.test", "alice")).length;
  await swaks([
    "--from",
    "alice@example.test",
    "--to",
    "carol@hard.test",
    "--header",
    "Subject: will-bounce",
  ]);
  await waitFor(
    "DSN in alice's Maildir",
    async () => (await mailbox("example.test", "alice")).length > before,
  );
  const dsn = (await mailbox("example.test", "alice")).find((m) => m.includes("multipart/report"));
  assert.ok(dsn, "a multipart/report arrived");
  assert.match(dsn, /Return-Path: <>/);
  assert.match(dsn, /Final-Recipient: rfc822; ?carol@hard\.test/i);
  assert.match(dsn, /Action: failed/);
  assert.match(dsn, /Status: 5\.\d\.\d/);
  assert.equal(await hard.count(), 0);
});

test("a DSN to a sender that is a local alias reaches the aliased mailbox", async () => {
  await swaks(["--from", "info@example.test", "--to", "zed@hard.test", "--header", "Subject: alias-bounce"]);
  await waitFor("DSN for zed@hard.test in alice's Maildir", async () =>
    (await mailbox("example.test", "alice")).some((m) => /Final-Recipient: rfc822; ?zed@hard\.test/i.test(m)),
  );
});

test("a soft RCPT failure keeps the message queued for retry", async () => {
  await swaks(["--from", "alice@example.test", "--to", "dave@soft.test", "--header", "Subject: will-wait"]);
  const list = async () => {
    const r = await run(process.execPath, ["bin/mailyard.js", "queue", "list", "--json", ...cliSets]);
    return JSON.parse(r.stdout) as {
      recipients: { address: string; attempts: number; lastReply: string | null }[];
    }[];
  };
  await waitFor("a deferred attempt for dave@soft.test", async () =>
    (await list()).some((m) => m.recipients.some((r) => r.address === "dave@soft.test" && r.attempts >= 1)),
  );
  const entry = (await list()).find((m) => m.recipients.some((r) => r.address === "dave@soft.test"))!;
  assert.match(entry.recipients[0]!.lastReply ?? "", /^4\d\d/);
});

test("relaying from outside relayNetworks without AUTH is refused; AUTH after STARTTLS allows it", async () => {
  await assert.rejects(
    run("swaks", [
      "--server",
      `127.0.0.1:${node.submission[0]!.port}`,
      "--from",
      "a@example.test",
      "--to",
      "x@good.test",
    ]),
    (e: { stdout: string }) => /<\*\* 530 5\.7\.0/.test(e.stdout),
  );
  const r = await run("swaks", [
    "--server",
    `127.0.0.1:${node.submission[0]!.port}`,
    "--tls",
    "--auth",
    "PLAIN",
    "--auth-user",
    "alice@example.test",
    "--auth-password",
    "s3cret",
    "--from",
    "alice@example.test",
    "--to",
    "erin@good.test",
  ]);
  assert.match(r.stdout, /<~ {1,2}250 2\.0\.0 OK queued as/);
  await waitFor("submitted message at the sink", async () =>
    (await good.messages()).some((m) => m.includes("erin@good.test")),
  );
});

test("metrics and health are served on the HTTP listener", async () => {
  const base = `http://127.0.0.1:${node.http.port}`;
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /mailyard_messages_received_total\{source="smtp"\} [1-9]/);
  assert.match(metrics, /mailyard_recipients_delivered_total\{kind="local"\} [1-9]/);
  assert.match(metrics, /mailyard_queue_messages /);
});
