// Delivery at receipt (local.deliverOnReceipt): mail whose only recipient is a local account is
// stored in the Maildir before the 250 and never enters the queue; everything else (two
// recipients, NOTIFY=SUCCESS, a quota it might exceed, the setting off) takes the queue as
// before. Refusals are SMTP replies: a Delivered-To: loop 550 5.4.6, over the account's size
// limit 552 5.3.4, a store failure 451 4.3.0 with nothing stored. Real sockets, real files.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { createLocalReceipt } from "../../src/delivery/receipt.js";
import type { MaildirStore } from "../../src/store/maildir.js";
import { noMetrics } from "../../src/log/metrics.js";
import { systemClock } from "../../src/world/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { waitFor } from "../kit/load.js";

interface Rig {
  node: RunningNode;
  dataDir: string;
  logs: ReturnType<typeof memoryLogSink>;
}

async function rig(t: TestContext, deliverOnReceipt = true): Promise<Rig> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-receipt-"));
  const dir = openSqliteDirectory(join(dataDir, "mailyard.db"), systemClock);
  await dir.addDomain("example.test");
  await dir.addAccount("alice@example.test", "pw");
  await dir.addAccount("bob@example.test", "pw");
  await dir.addAccount("small@example.test", "pw", { maxMessageSize: 100 });
  await dir.addAccount("quota@example.test", "pw", { quotaBytes: 10_000_000 });
  await dir.close();
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"] },
    submission: { listen: ["127.0.0.1:0"] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    local: { deliverOnReceipt },
    log: { stdout: false },
  });
  const logs = memoryLogSink();
  const node = await startNode(settings, { log: logs });
  t.after(async () => {
    await node.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return { node, dataDir, logs };
}

const inbox = async (r: Rig, user: string): Promise<string[]> => {
  const d = join(r.dataDir, "mail", "example.test", user, "new");
  const names = await readdir(d).catch(() => []);
  return Promise.all(names.map((n) => readFile(join(d, n), "utf8")));
};
const queueFiles = (r: Rig): Promise<string[]> => readdir(join(r.dataDir, "queue", "active"));

/** One transaction; returns the reply to the end of data. */
async function send(r: Rig, rcpts: string[], body: string, rcptParams = ""): Promise<string> {
  const c = await SmtpClient.connect(r.node.smtp[0]!.port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<sender@remote.test>", 250);
    for (const to of rcpts) await c.cmd(`RCPT TO:<${to}>${rcptParams}`, 250);
    await c.cmd("DATA", 354);
    c.send(`${body.replace(/\n/g, "\r\n")}.\r\n`);
    const rep = await c.expect();
    await c.cmd("QUIT", 221);
    return rep.raw.trimEnd();
  } finally {
    c.close();
  }
}

const MSG = "Subject: hello\n\nbody line\n";

void test("one local recipient: stored before the 250, never queued", async (t) => {
  const r = await rig(t);
  const rep = await send(r, ["alice@example.test"], MSG);
  assert.match(rep, /^250 2\.0\.0 OK delivered as [0-9A-Z]+$/);
  const id = /as ([0-9A-Z]+)$/.exec(rep)![1]!;
  const msgs = await inbox(r, "alice");
  assert.equal(msgs.length, 1);
  assert.match(
    msgs[0]!,
    /^Return-Path: <sender@remote\.test>\r\nDelivered-To: alice@example\.test\r\nReceived: /,
  );
  assert.ok(msgs[0]!.includes(`id ${id}`), "the Received: header carries the id of the reply");
  assert.ok(msgs[0]!.endsWith("Subject: hello\r\n\r\nbody line\r\n"));
  assert.deepEqual(await queueFiles(r), []);
  const line = r.logs.records.find((x) => x.text === "delivered" && x.fields.id === id);
  assert.equal(line?.tag, "LOCAL");
  // The session's client, so the delivery can be matched with the SMTPI record of the session.
  assert.equal(line?.context, "127.0.0.1");
  assert.equal(line?.fields.status, "sent");
  assert.equal(line?.fields.relay, "mailbox");
  // Nothing left in tmp/: the file was renamed into new/.
  assert.deepEqual(await readdir(join(r.dataDir, "mail", "example.test", "alice", "tmp")), []);
  // The usage counter follows (after the reply, batched): the stored size, prepended lines too.
  const dir = openSqliteDirectory(join(r.dataDir, "mailyard.db"), systemClock);
  t.after(() => dir.close());
  await waitFor(
    "usage counted",
    async () => (await dir.getAccount("alice@example.test"))?.usedBytes === Buffer.byteLength(msgs[0]!),
    10_000,
  );
});

void test("a Delivered-To: loop is refused 550 5.4.6 at DATA; a size over the account's limit 552", async (t) => {
  const r = await rig(t);
  const looped = `Delivered-To: Alice@Example.test\n${MSG}`;
  assert.match(await send(r, ["alice@example.test"], looped), /^550 5\.4\.6 /);
  assert.match(await send(r, ["small@example.test"], `${MSG}${"x".repeat(200)}\n`), /^552 5\.3\.4 /);
  assert.deepEqual(await inbox(r, "alice"), []);
  assert.deepEqual(await inbox(r, "small"), []);
  assert.deepEqual(await readdir(join(r.dataDir, "mail", "example.test", "alice", "tmp")), []);
  assert.deepEqual(await queueFiles(r), []);
});

void test("two recipients, NOTIFY=SUCCESS, a quota: the queue path, and delivered from there", async (t) => {
  const r = await rig(t);
  assert.match(await send(r, ["alice@example.test", "bob@example.test"], MSG), /^250 2\.0\.0 OK queued as /);
  assert.match(await send(r, ["bob@example.test"], MSG, " NOTIFY=SUCCESS"), /^250 2\.0\.0 OK queued as /);
  assert.match(await send(r, ["quota@example.test"], MSG), /^250 2\.0\.0 OK queued as /);
  await waitFor(
    "queued mail delivered",
    async () => (await inbox(r, "bob")).length === 2 && (await inbox(r, "quota")).length === 1,
    10_000,
  );
  assert.equal((await inbox(r, "alice")).length, 1);
});

void test("local.deliverOnReceipt=false: every message is queued", async (t) => {
  const r = await rig(t, false);
  assert.match(await send(r, ["alice@example.test"], MSG), /^250 2\.0\.0 OK queued as /);
  await waitFor("queued mail delivered", async () => (await inbox(r, "alice")).length === 1, 10_000);
});

void test("a store that fails at commit answers 451 4.3.0 and stores nothing", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-receipt-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const directory = openSqliteDirectory(join(dataDir, "mailyard.db"), systemClock);
  t.after(() => directory.close());
  await directory.addDomain("example.test");
  await directory.addAccount("alice@example.test", "pw");
  const aborted: string[] = [];
  const store: MaildirStore = {
    folder: () => dataDir,
    usage: () => Promise.resolve(null),
    deliver: () => Promise.reject(new Error("unused")),
    begin: () =>
      Promise.resolve({
        write: () => Promise.resolve(),
        commit: () => Promise.reject(Object.assign(new Error("disk full"), { code: "ENOSPC" })),
        abort: () => {
          aborted.push("abort");
          return Promise.resolve();
        },
      }),
  };
  const logs = memoryLogSink();
  const receipt = createLocalReceipt({
    directory,
    store,
    settings: settingsSchema.parse({ dataDir }),
    clock: systemClock,
    nextId: () => "ID0000000001",
    metrics: noMetrics,
    log: logs.for("LOCAL"),
  });
  const rcpt = { address: "alice@example.test", original: null, notify: null, orcpt: null };
  const sink = await receipt.open(rcpt, "a@b.test", Date.now());
  assert.ok(sink !== null);
  await sink.write(Buffer.from("Subject: x\r\n\r\nbody\r\n"));
  const rep = await sink.end();
  assert.deepEqual([rep.code, rep.enhanced], [451, "4.3.0"]);
  assert.equal((await directory.getAccount("alice@example.test"))?.usedBytes, 0);
  assert.ok(logs.records.some((x) => x.text === "mailbox write failed" && x.fields.error === "ENOSPC"));
  // Unknown or disabled accounts are not settled here: null sends them to the queue.
  assert.equal(await receipt.open({ ...rcpt, address: "nobody@example.test" }, "", Date.now()), null);
});
