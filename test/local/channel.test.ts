// The local mailbox channel end to end over a real SQLite directory and real Maildir files:
// every outcome (delivered, unknown, disabled, too big, quota, flow limit, loop, store failure)
// and the bookkeeping after a delivery.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, unlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import type { Directory } from "../../src/directory/directory.js";
import { createMaildirStore, type MaildirStore } from "../../src/store/maildir.js";
import { createLocalChannel, deliveredToValues } from "../../src/delivery/local.js";
import { settingsSchema } from "../../src/config/settings.js";
import type { DeliveryJob } from "../../src/queue/types.js";
import type { Outcome } from "../../src/proto/outcome.js";

interface Rig {
  dir: Directory;
  root: string;
  clock: FakeClock;
  logs: ReturnType<typeof memoryLogSink>;
  deliver(
    to: string | string[],
    message?: string,
    returnPath?: string,
    oneByteChunks?: boolean,
  ): Promise<Outcome[]>;
}

const MESSAGE = "From: <bob@remote.test>\r\nTo: <alice@example.test>\r\nSubject: hi\r\n\r\nHello Alice.\r\n";

async function rig(t: TestContext, store?: MaildirStore, settings: object = {}): Promise<Rig> {
  const tmp = await mkdtemp(join(tmpdir(), "mailyard-local-"));
  const clock = new FakeClock();
  const dir = openSqliteDirectory(join(tmp, "mailyard.db"), clock);
  t.after(async () => {
    await dir.close();
    await rm(tmp, { recursive: true, force: true });
  });
  await dir.addDomain("example.test");
  await dir.addAccount("alice@example.test", "pw");
  const logs = memoryLogSink();
  const root = join(tmp, "mail");
  const channel = createLocalChannel({
    directory: dir,
    store: store ?? createMaildirStore(root, logs.for("LOCAL")),
    settings: settingsSchema.parse(settings),
    clock,
    log: logs.for("LOCAL"),
    hostname: "mx.example.test",
  });
  let n = 0;
  return {
    dir,
    root,
    clock,
    logs,
    deliver(to, message = MESSAGE, returnPath = "bob@remote.test", oneByteChunks = false) {
      const list = typeof to === "string" ? [to] : to;
      const bytes = Buffer.from(message);
      const job: DeliveryJob = {
        envelope: {
          id: `Q${++n}`,
          returnPath,
          recipients: list.map((address) => ({ address, original: null, notify: null, orcpt: null })),
          ret: null,
          envid: null,
          body: "8BITMIME",
          smtputf8: false,
          source: "smtp",
          authUser: null,
          client: null,
          arrival: clock.now(),
          size: bytes.length,
        },
        recipients: list.map((address, index) => ({
          index,
          rcpt: { address, original: null, notify: null, orcpt: null },
        })),
        route: { key: `local:${list[0]}`, kind: "local" },
        body: () => Readable.from(oneByteChunks ? [...bytes].map((b) => Buffer.from([b])) : [bytes]),
      };
      return channel.deliver(job);
    },
  };
}

const summary = (o: Outcome) =>
  `${o.kind} ${o.reply.code} ${o.reply.enhanced ?? ""} ${o.relay}${o.kind === "delivered" ? "" : ` ${o.scope}`}`;

async function inbox(root: string, user = "alice"): Promise<string[]> {
  const newDir = join(root, "example.test", user, "new");
  const files = await readdir(newDir).catch(() => []);
  return Promise.all(files.map((f) => readFile(join(newDir, f), "utf8")));
}

void test("success: stored with Return-Path and Delivered-To, usage and flow recorded, logged", async (t) => {
  const r = await rig(t);
  const out = await r.deliver("Alice@Example.test");
  assert.deepEqual(out.map(summary), ["delivered 250 2.0.0 mailbox"]);
  assert.equal(out[0]!.reply.text, "Delivered");
  const msgs = await inbox(r.root);
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0], `Return-Path: <bob@remote.test>\r\nDelivered-To: alice@example.test\r\n${MESSAGE}`);
  const acc = await r.dir.getAccount("alice@example.test");
  assert.equal(acc?.usedBytes, Buffer.byteLength(msgs[0] ?? ""));
  // Incoming flow is counted only for accounts with a limit.
  assert.equal(await r.dir.countFlow("alice@example.test", "in", 0), 0);
  await r.dir.addAccount("limited@example.test", "pw", { inFlow: { messages: 10, periodSeconds: 60 } });
  await r.deliver("limited@example.test");
  assert.equal(await r.dir.countFlow("limited@example.test", "in", 0), 1);
  const line = r.logs.records.find((x) => x.text === "delivered");
  assert.equal(line?.fields.to, "alice@example.test");
  assert.equal(line?.fields.relay, "mailbox");
  assert.equal(line?.fields.status, "sent");
});

void test("null sender gets Return-Path: <>", async (t) => {
  const r = await rig(t);
  await r.deliver("alice@example.test", MESSAGE, "");
  assert.match((await inbox(r.root))[0]!, /^Return-Path: <>\r\nDelivered-To: alice@example.test\r\n/);
});

void test("unknown account bounces 5.1.1; disabled bounces 5.2.1; too big bounces 5.3.4", async (t) => {
  const r = await rig(t);
  await r.dir.addAccount("off@example.test", "pw", { enabled: false });
  await r.dir.addAccount("small@example.test", "pw", { maxMessageSize: 10 });
  const out = await r.deliver(["nobody@example.test", "off@example.test", "small@example.test"]);
  assert.deepEqual(out.map(summary), [
    "bounced 550 5.1.1 mailbox recipient",
    "bounced 550 5.2.1 mailbox recipient",
    "bounced 552 5.3.4 mailbox recipient",
  ]);
  assert.deepEqual(await inbox(r.root, "off"), []);
});

for (const mode of ["queue", "reject"] as const) {
  void test(`over quota (${mode}): the mailbox's usage decides; room made by hand is seen`, async (t) => {
    const r = await rig(t, undefined, { smtp: { overQuota: mode } });
    await r.dir.addAccount("full@example.test", "pw", { quotaBytes: 200 });
    assert.deepEqual((await r.deliver("full@example.test")).map(summary), ["delivered 250 2.0.0 mailbox"]);
    // what the directory says does not matter: the mailbox holds about 150 of 200 bytes
    await r.dir.addUsage("full@example.test", -1000);
    const out = await r.deliver("full@example.test");
    assert.deepEqual(out.map(summary), [
      mode === "queue" ? "deferred 452 4.2.2 mailbox recipient" : "bounced 552 5.2.2 mailbox recipient",
    ]);
    const [stored] = await readdir(join(r.root, "example.test", "full", "new"));
    assert.equal(
      (await r.dir.getAccount("full@example.test"))!.usedBytes,
      Number(/,S=(\d+)/.exec(stored!)![1]),
    );
    // emptied by hand a while later (no record of it; file times move in ticks of a few ms, so
    // the quota file is dated a second back): the next delivery finds room
    const earlier = new Date(Date.now() - 1000);
    await utimes(join(r.root, "example.test", "full", "maildirsize"), earlier, earlier);
    await unlink(join(r.root, "example.test", "full", "new", stored!));
    assert.deepEqual((await r.deliver("full@example.test")).map(summary), ["delivered 250 2.0.0 mailbox"]);
  });
}

void test("incoming flow limit defers 4.7.1 until the window passes", async (t) => {
  const r = await rig(t);
  await r.dir.addAccount("busy@example.test", "pw", { inFlow: { messages: 2, periodSeconds: 60 } });
  assert.deepEqual((await r.deliver("busy@example.test")).map(summary), ["delivered 250 2.0.0 mailbox"]);
  assert.deepEqual((await r.deliver("busy@example.test")).map(summary), ["delivered 250 2.0.0 mailbox"]);
  assert.deepEqual((await r.deliver("busy@example.test")).map(summary), [
    "deferred 450 4.7.1 mailbox recipient",
  ]);
  r.clock.advance(61_000);
  assert.deepEqual((await r.deliver("busy@example.test")).map(summary), ["delivered 250 2.0.0 mailbox"]);
  assert.equal((await inbox(r.root, "busy")).length, 3);
});

void test("a Delivered-To: for this address in the header section bounces 5.4.6; in the body it does not", async (t) => {
  const r = await rig(t);
  const looped = `Delivered-To: someone@else.test\r\ndelivered-TO:\r\n  <ALICE@example.test>\r\n${MESSAGE}`;
  const out = await r.deliver("alice@example.test", looped);
  assert.deepEqual(out.map(summary), ["bounced 550 5.4.6 mailbox recipient"]);
  assert.match(out[0]!.reply.text, /loop/i);
  assert.deepEqual(await inbox(r.root), []);

  const inBody = `${MESSAGE}Delivered-To: alice@example.test\r\n`;
  assert.deepEqual((await r.deliver("alice@example.test", inBody)).map(summary), [
    "delivered 250 2.0.0 mailbox",
  ]);
  // The same with the bytes arriving one at a time (boundaries at every offset).
  assert.deepEqual((await r.deliver("alice@example.test", looped, "b@remote.test", true)).map(summary), [
    "bounced 550 5.4.6 mailbox recipient",
  ]);
  assert.deepEqual((await r.deliver("alice@example.test", inBody, "b@remote.test", true)).map(summary), [
    "delivered 250 2.0.0 mailbox",
  ]);
  const other = `Delivered-To: bob@example.test\r\n${MESSAGE}`;
  assert.deepEqual((await r.deliver("alice@example.test", other)).map(summary), [
    "delivered 250 2.0.0 mailbox",
  ]);
});

void test("deliveredToValues unfolds and normalises", () => {
  assert.deepEqual(
    deliveredToValues("Subject: x\r\nDelivered-To: A@B.test\r\nDELIVERED-TO :\r\n\t<c@d.test>\nX: y"),
    ["a@b.test", "c@d.test"],
  );
  assert.deepEqual(deliveredToValues("X-Delivered-To: a@b.test"), []);
});

void test("a store failure is deferred 4.3.0 and nothing is counted", async (t) => {
  const failing: MaildirStore = {
    folder: () => "/nonexistent",
    usage: () => Promise.resolve(null),
    deliver: () => Promise.reject(Object.assign(new Error("no space left on device"), { code: "ENOSPC" })),
    begin: () => Promise.reject(Object.assign(new Error("no space left on device"), { code: "ENOSPC" })),
  };
  const r = await rig(t, failing);
  const out = await r.deliver("alice@example.test");
  assert.deepEqual(out.map(summary), ["deferred 451 4.3.0 mailbox recipient"]);
  assert.equal((await r.dir.getAccount("alice@example.test"))?.usedBytes, 0);
  assert.equal(await r.dir.countFlow("alice@example.test", "in", 0), 0);
  const failure = r.logs.records.find((x) => x.text === "mailbox write failed");
  assert.equal(failure?.fields.error, "ENOSPC");
});

void test("a real store error (tmp/ is not a directory) is deferred, not bounced", async (t) => {
  const r = await rig(t);
  await r.deliver("alice@example.test");
  // Works as root too, unlike a permission change.
  const tmpDir = join(r.root, "example.test", "alice", "tmp");
  await rm(tmpDir, { recursive: true });
  await writeFile(tmpDir, "not a directory");
  assert.deepEqual((await r.deliver("alice@example.test")).map(summary), [
    "deferred 451 4.3.0 mailbox recipient",
  ]);
  assert.equal((await inbox(r.root)).length, 1);
});

void test("a directory failure is deferred 4.3.0", async (t) => {
  const r = await rig(t);
  await r.dir.close();
  const out = await r.deliver("alice@example.test");
  assert.deepEqual(out.map(summary), ["deferred 451 4.3.0 mailbox recipient"]);
});
