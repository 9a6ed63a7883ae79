// The inbound policy against a real SQLite directory: relay control, recipient checks, limits
// and the queue-full answer, as the SMTP engine would ask them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema, type Settings } from "../../src/config/settings.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { createInboundHandler } from "../../src/inbound/handler.js";
import type { Incoming, Queue } from "../../src/queue/types.js";
import type { Envelope } from "../../src/queue/envelope.js";
import type { MailParams, SessionInfo, Transaction } from "../../src/smtp/handler.js";
import { noMetrics } from "../../src/log/metrics.js";
import { FakeClock } from "../kit/clock.js";
import { silentLog } from "../kit/log.js";
import { testLoginGates } from "../kit/login-gate.js";
import { fakeQueue } from "../kit/queue.js";

const params: MailParams = {
  size: null,
  body: "7BIT",
  smtputf8: false,
  ret: null,
  envid: null,
  requireTls: false,
};
const session = (over: Partial<SessionInfo> = {}): SessionInfo => ({
  id: 1,
  listener: "smtp",
  remote: { address: "192.0.2.10", port: 40000 },
  local: { address: "127.0.0.1", port: 2525 },
  helo: "client.test",
  esmtp: true,
  tls: false,
  authUser: null,
  ...over,
});
const tx = (from = "x@remote.test", size: number | null = null): Transaction => ({
  from,
  params: { ...params, size },
  rcpts: [],
});

async function setup(t: { after(fn: () => Promise<void>): void }, over: Partial<Settings["smtp"]> = {}) {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-policy-"));
  const clock = new FakeClock();
  const directory = openSqliteDirectory(join(dir, "d.db"), clock);
  await directory.addDomain("example.test");
  await directory.addAccount("alice@example.test", "pw");
  await directory.addAccount("off@example.test", "pw", { enabled: false });
  await directory.addAccount("full@example.test", "pw", { quotaBytes: 1000 });
  await directory.addUsage("full@example.test", 1000);
  await directory.addAccount("busy@example.test", "pw", { inFlow: { messages: 1, periodSeconds: 60 } });
  await directory.recordFlow("busy@example.test", "in", clock.now());
  await directory.addAccount("chatty@example.test", "pw", { outFlow: { messages: 2, periodSeconds: 3600 } });
  await directory.recordFlow("chatty@example.test", "out", clock.now());
  await directory.recordFlow("chatty@example.test", "out", clock.now());
  await directory.addAlias("loop1@example.test", ["loop2@example.test"]);
  await directory.addAlias("loop2@example.test", ["loop1@example.test"]);
  let full = false;
  const committed: Envelope[] = [];
  const queue: Queue = {
    ...fakeQueue([]),
    begin(): Promise<Incoming | "full"> {
      if (full) return Promise.resolve("full");
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
  const settings = settingsSchema.parse({ smtp: { relayNetworks: ["127.0.0.0/8"], ...over } });
  const handler = createInboundHandler({
    settings,
    directory,
    queue,
    clock,
    log: silentLog(),
    metrics: noMetrics,
    login: testLoginGates(t, settings, clock).mail,
  });
  t.after(async () => {
    await directory.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { handler, committed, setFull: (v: boolean) => (full = v) };
}

const code = (r: { code: number; enhanced: string | null }) => `${r.code} ${r.enhanced ?? ""}`;
const rcpt = { notify: null, orcpt: null };

test("relay control: outside relayNetworks without AUTH is refused, AUTH or a trusted address may relay", async (t) => {
  const { handler } = await setup(t);
  assert.equal(code(await handler.rcptTo(session(), tx(), "bob@remote.test", rcpt)), "554 5.7.1");
  assert.equal(
    code(await handler.rcptTo(session({ authUser: "alice@example.test" }), tx(), "bob@remote.test", rcpt)),
    "250 2.1.5",
  );
  assert.equal(
    code(
      await handler.rcptTo(
        session({ remote: { address: "127.0.0.1", port: 1 } }),
        tx(),
        "bob@remote.test",
        rcpt,
      ),
    ),
    "250 2.1.5",
  );
  // Local domains are open to anyone: that is what an MX is for.
  assert.equal(code(await handler.rcptTo(session(), tx(), "alice@example.test", rcpt)), "250 2.1.5");
});

test("an empty relayNetworks trusts no address, not even loopback", async (t) => {
  const { handler } = await setup(t, { relayNetworks: [] });
  const local = session({ remote: { address: "127.0.0.1", port: 1 } });
  assert.equal(code(await handler.rcptTo(local, tx(), "bob@remote.test", rcpt)), "554 5.7.1");
});

test("recipient status: unknown 550 5.1.1, disabled 550 5.2.1, over quota 452 4.2.2, receive limit 450 4.7.1, alias loop 550 5.4.6", async (t) => {
  const { handler } = await setup(t);
  const s = session();
  assert.equal(code(await handler.rcptTo(s, tx(), "nobody@example.test", rcpt)), "550 5.1.1");
  assert.equal(code(await handler.rcptTo(s, tx(), "off@example.test", rcpt)), "550 5.2.1");
  assert.equal(code(await handler.rcptTo(s, tx(), "full@example.test", rcpt)), "452 4.2.2");
  assert.equal(code(await handler.rcptTo(s, tx(), "busy@example.test", rcpt)), "450 4.7.1");
  assert.equal(code(await handler.rcptTo(s, tx(), "loop1@example.test", rcpt)), "550 5.4.6");
});

test("over quota with smtp.overQuota = queue: accepted for retry from the queue", async (t) => {
  const { handler } = await setup(t, { overQuota: "queue" });
  assert.equal(code(await handler.rcptTo(session(), tx(), "full@example.test", rcpt)), "250 2.1.5");
});

test("sender limits: over MailOutFlow gets 450 4.7.1 at MAIL; submission needs AUTH", async (t) => {
  const { handler } = await setup(t);
  assert.equal(
    code(await handler.mailFrom(session({ authUser: "chatty@example.test" }), "chatty@example.test", params)),
    "450 4.7.1",
  );
  assert.equal(
    code(await handler.mailFrom(session({ authUser: "alice@example.test" }), "alice@example.test", params)),
    "250 2.1.0",
  );
  assert.equal(
    code(await handler.mailFrom(session({ listener: "submission" }), "alice@example.test", params)),
    "530 5.7.0",
  );
});

test("queue full: the data is refused with 452 4.3.1; otherwise the envelope reaches the queue with a Received: header", async (t) => {
  const { handler, committed, setFull } = await setup(t);
  const s = session();
  const t1: Transaction = { ...tx(), rcpts: [{ address: "alice@example.test", params: rcpt }] };
  await handler.mailFrom(s, t1.from, params);
  await handler.rcptTo(s, tx(), "alice@example.test", rcpt);
  setFull(true);
  const refused = await handler.openMessage(s, t1);
  assert.ok("code" in refused);
  assert.equal(code(refused), "452 4.3.1");
  setFull(false);
  const sink = await handler.openMessage(s, t1);
  assert.ok(!("code" in sink));
  await sink.write(Buffer.from("Subject: hi\r\n\r\nbody\r\n"));
  assert.equal(code(await sink.end()), "250 2.0.0");
  assert.equal(committed.length, 1);
  assert.deepEqual(
    committed[0]!.recipients.map((r) => r.address),
    ["alice@example.test"],
  );
  assert.equal(committed[0]!.client?.address, "192.0.2.10");
  assert.ok(committed[0]!.size > "Subject: hi\r\n\r\nbody\r\n".length, "Received: header was prepended");
});
