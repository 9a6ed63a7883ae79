// Removed accounts (issue 16 item 5): mail accepted for an account that is removed before it is
// delivered is bounced with exactly one DSN (5.1.1) and leaves the queue, in a static cluster
// (the removal took the account's home with it: it used to wait "with no home backend" until
// it expired), in a dynamic cluster and on a single server. The account is removed between the
// RCPT reply and the end of DATA, as an operator could at any time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { startNode } from "../../src/server/node.js";
import { FakeClock } from "../kit/clock.js";
import { waitFor } from "../kit/load.js";
import { memoryLogSink } from "../kit/log.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { addAccounts, startCluster, waitForMail } from "./fixtures.js";

/** alice writes to carol; `removed` runs after the RCPT replies, before DATA. */
async function send(port: number, removed: () => Promise<void>): Promise<void> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<alice@example.test>", 250);
    await c.cmd("RCPT TO:<carol@example.test>", 250);
    await removed();
    await c.cmd("DATA", 354);
    await c.cmd("From: <alice@example.test>\r\nSubject: to carol\r\n\r\nHello.\r\n.", 250);
    await c.cmd("QUIT", 221);
  } finally {
    c.close();
  }
}

const oneReport = (reports: string[]): void => {
  assert.equal(reports.length, 1, "exactly one report");
  assert.match(reports[0]!, /^Return-Path: <>\r\n/);
  assert.match(reports[0]!, /Final-Recipient: rfc822; ?carol@example\.test/i);
  assert.match(reports[0]!, /Status: 5\.1\.1/);
};

test("static cluster: mail queued for a removed account (its home gone with it) is bounced once with 5.1.1", async (t) => {
  // No answer cache on the frontend, so its first attempt already asks whether carol exists
  // (the cached answer would only make that attempt wait, and the next one bounce).
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: { cluster: { cacheSeconds: 0 } } },
    { id: "b1", role: "backend" },
    { id: "b2", role: "backend" },
  ]);
  await addAccounts(c, { "alice@example.test": "b1", "carol@example.test": "b2" });
  const f1 = c.node("f1");
  // As `account remove` and the admin API do it: the account and its home.
  await send(f1.smtp[0]!.port, async () => {
    await c.directory.removeAccount("carol@example.test");
    await c.state.clearHome("carol@example.test");
  });
  oneReport(await waitForMail(c, "b1", "alice@example.test"));
  await waitFor("f1's queue empty", () => f1.queue.size() === 0);
  const bounced = c.logs
    .get("f1")!
    .records.filter((r) => r.text === "recipient status" && r.fields["status"] === "bounced");
  assert.equal(bounced.length, 1, JSON.stringify(bounced));
  assert.equal((await c.mailbox("b2", "carol@example.test")).length, 0);
});

test("dynamic cluster: mail queued for a removed account is bounced once with 5.1.1", async (t) => {
  const root = await mkdtemp(join(tmpdir(), "mailyard-removed-"));
  t.after(() => rm(root, { recursive: true, force: true }));
  const shared = { cluster: { kind: "dynamic" }, local: { mailDir: join(root, "mail") } };
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: { cluster: { kind: "dynamic" } } },
    { id: "b1", role: "backend", extra: shared },
    { id: "b2", role: "backend", extra: shared },
  ]);
  await c.directory.addDomain("example.test");
  await c.directory.addAccount("alice@example.test", "pw");
  await c.directory.addAccount("carol@example.test", "pw");
  const f1 = c.node("f1");
  await send(f1.smtp[0]!.port, () => c.directory.removeAccount("carol@example.test"));
  const alice = async (): Promise<string[]> => {
    const dir = join(root, "mail", "example.test", "alice", "new");
    const names = await readdir(dir).catch(() => []);
    return Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
  };
  await waitFor("alice's report", async () => (await alice()).length > 0);
  await waitFor("f1's queue empty", () => f1.queue.size() === 0);
  oneReport(await alice());
});

test("single server: mail queued for a removed account is bounced once with 5.1.1", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-removed-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const clock = new FakeClock(Date.now());
  const stateFile = join(dataDir, "state.db");
  const node = await startNode(
    settingsSchema.parse({
      dataDir,
      hostname: "mx.example.test",
      state: { url: stateFile },
      smtp: { listen: ["127.0.0.1:0"] },
      submission: { listen: [] },
      submissions: { listen: [] },
      pop3: { listen: [] },
      http: { listen: "127.0.0.1:0" },
      log: { stdout: false },
    }),
    { log: memoryLogSink(), world: { clock } },
  );
  t.after(() => node.stop());
  const directory = openSqliteDirectory(stateFile, clock);
  t.after(() => directory.close());
  await directory.addDomain("example.test");
  await directory.addAccount("alice@example.test", "pw");
  await directory.addAccount("carol@example.test", "pw");
  await send(node.smtp[0]!.port, () => directory.removeAccount("carol@example.test"));
  const alice = async (): Promise<string[]> => {
    const dir = join(dataDir, "mail", "example.test", "alice", "new");
    const names = await readdir(dir).catch(() => []);
    return Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
  };
  await waitFor("alice's report", async () => (await alice()).length > 0);
  oneReport(await alice());
});
