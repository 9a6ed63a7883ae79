// Issue 15 item 2 end to end: an account whose Sieve script has `:matches "*money*"` gets a
// message with a 60,000-character Subject from an unauthenticated client. While that message is
// being evaluated the node must still take new connections and answer /healthz. Timing-free:
// the node's world.pause (how rule evaluation gives the event loop back) is the test's, and the
// first time the evaluation pauses, the test opens a new SMTP connection and asks /healthz,
// awaiting both inside the pause. So both are answered while the evaluation is under way, by
// construction; an evaluation that never gives the loop back (the old matcher ran for ~30 s
// without once) never gets there.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { memoryLogSink } from "../kit/log.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { waitFor } from "../kit/load.js";

let dataDir = "";
let node: RunningNode;
const logs = memoryLogSink();
const quiet = {
  out: () => undefined,
  err: (t: string) => void process.stderr.write(t + "\n"),
  env: {},
  cwd: tmpdir(),
};

/** What the test saw from inside the evaluation's first pause. */
const during: { pauses: number; healthz: number | null; greeting: string | null } = {
  pauses: 0,
  healthz: null,
  greeting: null,
};

async function pause(): Promise<void> {
  during.pauses++;
  if (during.pauses === 1) {
    const smtp = await SmtpClient.connect(node.smtp[0]!.port);
    during.greeting = (await smtp.expect(220)).raw;
    smtp.close();
    const r = await fetch(`http://127.0.0.1:${node.http.port}/healthz`);
    await r.text();
    during.healthz = r.status;
  }
  await new Promise<void>((resolve) => setImmediate(resolve));
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mailyard-sieve-freeze-"));
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"] },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: logs, world: { pause } });
  const sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal(await cli(["domain", "add", "example.test", ...sets], quiet), 0);
  assert.equal(await cli(["account", "add", "alice@example.test", "--password", "pw", ...sets], quiet), 0);
  const script = join(dataDir, "alice.sieve");
  await writeFile(
    script,
    'require "fileinto";\nif header :matches "subject" "*money*" { fileinto "Spam"; }\n',
  );
  assert.equal(await cli(["sieve", "put", "alice@example.test", script, ...sets], quiet), 0);
});

after(async () => {
  await node?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test("while a huge Subject is matched against *money*, the node takes connections and answers /healthz", async () => {
  const c = await SmtpClient.connect(node.smtp[0]!.port);
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  await c.cmd("MAIL FROM:<stranger@remote.test>", 250);
  await c.cmd("RCPT TO:<alice@example.test>", 250);
  await c.cmd("DATA", 354);
  // 60,000 characters of near misses, folded within the line limit, and the word at the very end
  c.send("Subject: mone\r\n" + " mone\r\n".repeat(12_000) + " money\r\n\r\nbody\r\n.\r\n");
  await c.expect(250);
  c.close();
  const spam = join(dataDir, "mail", "example.test", "alice", ".Spam", "new");
  await waitFor(
    "the message in alice's Spam folder",
    async () => (await readdir(spam).catch(() => [])).length === 1,
  );
  assert.ok(during.pauses >= 1, "the evaluation gave the event loop back");
  assert.equal(during.healthz, 200, "/healthz answered during the evaluation");
  assert.match(during.greeting ?? "", /^220 /, "a new SMTP connection was greeted during the evaluation");
  assert.ok(!logs.records.some((r) => r.text === "sieve work limit, implicit keep"), "the script really ran");
});
