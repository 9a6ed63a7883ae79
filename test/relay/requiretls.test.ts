// REQUIRETLS (RFC 8689) on both sides of a single server. In: offered only inside TLS, refused
// (530 5.7.10) outside it, and kept in the queue. Out: a REQUIRETLS message goes only over TLS
// whose certificate chains to a trusted CA (here a test CA given in smtp.outbound.caFile) and
// names the MX host, to a server that offers REQUIRETLS, with REQUIRETLS on its MAIL command;
// anything else bounces it with one report (5.7.30 / 5.7.10). The same hosts still take
// ordinary mail opportunistically. The server without TLS is Postfix's smtp-sink.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { startFakeSmtpServer, type FakeSmtpServer } from "../kit/fake-smtp-server.js";
import { memoryLogSink } from "../kit/log.js";
import { freePort } from "../kit/ports.js";
import { fakeResolver } from "../kit/resolver.js";
import { startSink, type Sink } from "../kit/sink.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { makeTestCa } from "../kit/test-ca.js";
import { waitFor } from "../kit/load.js";

let dataDir = "";
let node: RunningNode;
let good: FakeSmtpServer;
let noext: FakeSmtpServer;
let self: FakeSmtpServer;
let plain: Sink;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mailyard-requiretls-"));
  const ca = await makeTestCa();
  const caFile = join(dataDir, "test-ca.pem");
  await writeFile(caFile, ca.cert);
  const stranger = await makeTestCa("Another CA");
  const port = await freePort();
  const withExt = ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "REQUIRETLS"];
  good = await startFakeSmtpServer({
    host: "127.0.0.2",
    port,
    extensions: withExt,
    tls: await ca.issue(["mx.good.test"]),
  });
  noext = await startFakeSmtpServer({
    host: "127.0.0.3",
    port,
    extensions: ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"],
    tls: await ca.issue(["mx.noext.test"]),
  });
  self = await startFakeSmtpServer({
    host: "127.0.0.4",
    port,
    extensions: withExt,
    tls: await stranger.issue(["mx.self.test"]),
  });
  plain = await startSink([], { host: "127.0.0.5", port });
  const mx = (host: string) => ({ kind: "ok" as const, records: [{ exchange: host, priority: 10 }] });
  const a = (ip: string) => ({ kind: "ok" as const, records: [ip] });
  const resolver = fakeResolver({
    mx: {
      "good.test": mx("mx.good.test"),
      "noext.test": mx("mx.noext.test"),
      "self.test": mx("mx.self.test"),
      "plain.test": mx("mx.plain.test"),
    },
    addresses: {
      "mx.good.test": a("127.0.0.2"),
      "mx.noext.test": a("127.0.0.3"),
      "mx.self.test": a("127.0.0.4"),
      "mx.plain.test": a("127.0.0.5"),
    },
  });
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"], outbound: { port, caFile } },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: memoryLogSink(), world: { resolver } });
  const sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal(await cli(["domain", "add", "example.test", ...sets]), 0);
  assert.equal(await cli(["account", "add", "alice@example.test", "--password", "pw", ...sets]), 0);
});

after(async () => {
  await node?.stop();
  await Promise.all([good?.close(), noext?.close(), self?.close(), plain?.stop()]);
  await rm(dataDir, { recursive: true, force: true });
});

/** Send one message from alice, with REQUIRETLS (over STARTTLS) or without. */
async function send(to: string, subject: string, requireTls: boolean): Promise<void> {
  const c = await SmtpClient.connect(node.smtp[0]!.port);
  try {
    await c.expect(220);
    const before = await c.cmd("EHLO client.test", 250);
    assert.ok(!before.lines.includes("REQUIRETLS"), "not offered outside TLS");
    if (requireTls) {
      const refused = await c.cmd("MAIL FROM:<alice@example.test> REQUIRETLS");
      assert.equal(refused.code, 530);
      assert.match(refused.lines.join(" "), /^5\.7\.10 /);
      await c.cmd("STARTTLS", 220);
      await c.startTls();
      const inside = await c.cmd("EHLO client.test", 250);
      assert.ok(inside.lines.includes("REQUIRETLS"), "offered inside TLS");
    }
    await c.cmd(`MAIL FROM:<alice@example.test>${requireTls ? " REQUIRETLS" : ""}`, 250);
    await c.cmd(`RCPT TO:<${to}>`, 250);
    await c.cmd("DATA", 354);
    await c.cmd(`From: alice@example.test\r\nSubject: ${subject}\r\n\r\nsecret text\r\n.`, 250);
    await c.cmd("QUIT");
  } finally {
    c.close();
  }
}

/** The reports in alice's mailbox that mention `subject`. */
async function reportsAbout(subject: string): Promise<string[]> {
  const dir = join(dataDir, "mail", "example.test", "alice", "new");
  const names = await readdir(dir).catch(() => []);
  const texts = await Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
  return texts.filter(
    (t) => t.includes(`Subject: ${subject}`) && /^Content-Type: multipart\/report/im.test(t),
  );
}

test("a REQUIRETLS message goes over verified TLS with REQUIRETLS on its MAIL command", async () => {
  await send("bob@good.test", "rtls-good", true);
  await good.waitFor(() => good.messages.length === 1);
  const m = good.messages[0]!;
  const session = good.sessions.find((s) => s.id === m.session)!;
  assert.ok(session.tls, "over TLS");
  assert.ok(
    session.transcript.some((l) => /^C: MAIL FROM:<alice@example\.test>.* REQUIRETLS/.test(l)),
    session.transcript.join("\n"),
  );
});

for (const [domain, code, why] of [
  ["noext.test", "5.7.30", /does not offer it/],
  ["self.test", "5.7.10", /does not verify/],
  ["plain.test", "5.7.10", /offers no TLS/],
] as const) {
  test(`to a server that cannot keep the promise (${domain}): bounced ${code} with one report, headers only`, async () => {
    const subject = `rtls-${domain}`;
    await send(`bob@${domain}`, subject, true);
    await waitFor(`the report for ${domain}`, async () => (await reportsAbout(subject)).length > 0);
    const reports = await reportsAbout(subject);
    assert.equal(reports.length, 1);
    const r = reports[0]!;
    assert.match(r, new RegExp(`^Status: ${code.replace(/\./g, "\\.")}$`, "m"));
    assert.match(r, why);
    assert.doesNotMatch(r, /secret text/, "the body does not travel back");
  });
}

test("ordinary mail still goes to the same hosts opportunistically", async () => {
  const before = self.messages.length;
  await send("carol@self.test", "plain-to-self", false);
  await self.waitFor(() => self.messages.length === before + 1);
  assert.equal(self.messages.at(-1)!.rcptTo[0], "carol@self.test");
});
