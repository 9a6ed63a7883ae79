// A frontend's SMTP policy over the cluster API: the real inbound handler and SMTP engine with
// the cluster directory client, against a real backend (API on the admin server, SQLite). An
// unknown recipient is refused at RCPT with 550 5.1.1, a known one accepted, AUTH checked by the
// backend; with the backends gone the answers are 4xx, never 5xx and never an accept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClusterDirectory } from "../../src/cluster/api/client.js";
import { settingsSchema } from "../../src/config/settings.js";
import { createInboundHandler } from "../../src/inbound/handler.js";
import { noMetrics } from "../../src/log/metrics.js";
import type { Envelope } from "../../src/queue/envelope.js";
import type { Incoming, Queue } from "../../src/queue/types.js";
import { createSmtpServer } from "../../src/smtp/server/listener.js";
import { systemClock } from "../../src/world/clock.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { testLoginGates } from "../kit/login-gate.js";
import { fakeQueue } from "../kit/queue.js";
import { SmtpClient, type SmtpReply } from "../kit/smtp-client.js";
import { SECRET, sqliteDirectory, startBackend } from "./fixtures.js";

const status = (r: SmtpReply): string => `${r.code} ${(r.lines[0] ?? "").split(" ")[0] ?? ""}`;
const plain = (user: string, password: string): string =>
  Buffer.from(`\0${user}\0${password}`, "utf8").toString("base64");

function memoryQueue(): Queue & { committed: Envelope[] } {
  const committed: Envelope[] = [];
  return {
    ...fakeQueue([]),
    committed,
    begin(): Promise<Incoming | "full"> {
      const chunks: Buffer[] = [];
      return Promise.resolve({
        id: "Q1",
        write: (c: Buffer) => Promise.resolve(void chunks.push(c)),
        commit: (d) => {
          const env = { ...d, id: "Q1", size: Buffer.concat(chunks).length };
          committed.push(env);
          return Promise.resolve(env);
        },
        abort: () => Promise.resolve(),
      });
    },
  };
}

test("the inbound policy over the cluster API: 550 5.1.1 unknown, 250 known, AUTH; 4xx when no backend answers", async (t) => {
  const clock = new FakeClock();
  const directory = await sqliteDirectory(t, clock);
  const backend = await startBackend(t, { directory, clock });
  const logs = memoryLogSink();
  const cluster = createClusterDirectory({
    backends: () => [{ id: "b1", http: backend.http }],
    secret: SECRET,
    nodeId: "fe1",
    clock,
    timeoutMs: 5000,
    cacheMs: 10_000,
    negativeCacheMs: 3000,
    maxEntries: 1000,
    log: logs.for("CLUSTER"),
  });
  t.after(() => Promise.resolve(cluster.close()));
  const settings = settingsSchema.parse({
    hostname: "fe1.test",
    smtp: { authRequiresTls: false, relayNetworks: [] },
  });
  const queue = memoryQueue();
  const smtp = createSmtpServer({
    settings,
    listener: "smtp",
    handler: createInboundHandler({
      settings,
      directory: cluster,
      queue,
      clock,
      log: logs.for("SMTPI"),
      metrics: noMetrics,
      login: testLoginGates(t, settings, clock).mail,
    }),
    log: logs.for("SMTPI"),
    clock: systemClock,
    metrics: noMetrics,
    tls: null,
  });
  const { port } = await smtp.listen("127.0.0.1", 0);
  t.after(() => smtp.close());

  const c1 = await SmtpClient.connect(port);
  await c1.expect(220);
  await c1.cmd("EHLO client.test", 250);
  assert.equal(status(await c1.cmd(`AUTH PLAIN ${plain("alice@example.test", "wrong")}`)), "535 5.7.8");
  assert.equal(status(await c1.cmd(`AUTH PLAIN ${plain("alice@example.test", "alice-pw")}`)), "235 2.7.0");
  assert.equal(status(await c1.cmd("MAIL FROM:<alice@example.test>")), "250 2.1.0");
  assert.equal(status(await c1.cmd("RCPT TO:<nobody@example.test>")), "550 5.1.1");
  assert.equal(status(await c1.cmd("RCPT TO:<bob@example.test>")), "250 2.1.5");
  assert.equal(status(await c1.cmd("RCPT TO:<team@example.test>")), "250 2.1.5");
  await c1.cmd("DATA", 354);
  assert.equal((await c1.cmd("Subject: hi\r\n\r\nhello\r\n.")).code, 250);
  await c1.cmd("QUIT", 221);
  await c1.closed();
  assert.deepEqual(
    queue.committed[0]?.recipients.map((r) => r.address),
    ["bob@example.test", "alice@example.test", "carol@remote.test"],
  );
  // The sent message was counted on the backend for alice's MailOutFlow.
  assert.equal(await directory.countFlow("alice@example.test", "out", clock.now() - 1000), 1);

  await backend.close();
  const c2 = await SmtpClient.connect(port);
  await c2.expect(220);
  await c2.cmd("EHLO client.test", 250);
  assert.equal(status(await c2.cmd(`AUTH PLAIN ${plain("bob@example.test", "bob-pw")}`)), "454 4.7.0");
  // Whether the sender's domain is local (smtp.verifyLocalSenders) is a question for a backend too.
  assert.equal(status(await c2.cmd("MAIL FROM:<someone@remote.test>")), "451 4.3.0");
  assert.equal(status(await c2.cmd("MAIL FROM:<>")), "250 2.1.0");
  const down = await c2.cmd("RCPT TO:<off@example.test>");
  assert.equal(status(down), "451 4.3.0");
  assert.equal(status(await c2.cmd("DATA")), "554 5.5.1");
  await c2.cmd("QUIT", 221);
  await c2.closed();
  assert.equal(queue.committed.length, 1);
  assert.ok(!JSON.stringify(logs.records).includes("alice-pw"));
});
