// A TLS policy failure as a whole node shows it: a message from a local account to a domain
// whose MX has an expired certificate, under smtp.outbound.tlsPolicy = verify, is deferred (not
// sent, not bounced) and its sender gets a delay report naming the 4.7.5 reason, which the log
// line of the attempt names too; /metrics counts the result.
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
import { SmtpClient } from "../kit/smtp-client.js";
import { makeTestCa } from "../kit/test-ca.js";
import { waitFor } from "../kit/load.js";

let dataDir = "";
let node: RunningNode;
let expired: FakeSmtpServer;
const logs = memoryLogSink();

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mailyard-tlsdsn-"));
  const ca = await makeTestCa();
  const caFile = join(dataDir, "test-ca.pem");
  await writeFile(caFile, ca.cert);
  const port = await freePort();
  const day = 86_400_000;
  expired = await startFakeSmtpServer({
    host: "127.0.0.3",
    port,
    tls: await ca.issue(["mx.expired.test"], [], {
      notBefore: new Date(Date.now() - 30 * day),
      notAfter: new Date(Date.now() - day),
    }),
  });
  const resolver = fakeResolver({
    mx: { "expired.test": { kind: "ok", records: [{ exchange: "mx.expired.test", priority: 10 }] } },
    addresses: { "mx.expired.test": { kind: "ok", records: ["127.0.0.3"] } },
  });
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"], outbound: { port, caFile, tlsPolicy: "verify" } },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    // The first deferral already crosses the warning threshold: the report comes at once.
    queue: { delayWarningSeconds: [0] },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: logs, world: { resolver } });
  const sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal(await cli(["domain", "add", "example.test", ...sets]), 0);
  assert.equal(await cli(["account", "add", "alice@example.test", "--password", "pw", ...sets]), 0);
});

after(async () => {
  await node?.stop();
  await expired?.close();
  await rm(dataDir, { recursive: true, force: true });
});

test("verify: an expired certificate defers with 4.7.5, in the delay report and the log", async () => {
  const c = await SmtpClient.connect(node.smtp[0]!.port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<alice@example.test>", 250);
    await c.cmd("RCPT TO:<bob@expired.test>", 250);
    await c.cmd("DATA", 354);
    await c.cmd("From: alice@example.test\r\nSubject: tls-dsn\r\n\r\nsecret text\r\n.", 250);
    await c.cmd("QUIT");
  } finally {
    c.close();
  }
  const dir = join(dataDir, "mail", "example.test", "alice", "new");
  const reports = async (): Promise<string[]> => {
    const names = await readdir(dir).catch(() => []);
    return Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
  };
  await waitFor("the delay report", async () => (await reports()).length > 0);
  const [report] = await reports();
  assert.match(report!, /^Action: delayed$/m);
  assert.match(report!, /^Status: 4\.7\.5$/m);
  assert.match(
    report!,
    /TLS policy verify of expired\.test: the certificate is not accepted: .*CERT_HAS_EXPIRED/,
  );
  assert.equal(expired.messages.length, 0, "nothing was sent");
  const line = logs.records.find((r) => r.text === "session failed" && r.fields["policy"] === "verify");
  assert.ok(line !== undefined, "the attempt's log line names the policy");
  const metrics = await (await fetch(`http://127.0.0.1:${node.http.port}/metrics`)).text();
  assert.match(
    metrics,
    /mailyard_tls_policy_results_total\{policy="static",result="certificate-expired"\} 1/,
  );
});
