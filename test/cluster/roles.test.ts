// The cluster roles in running nodes: two frontends and two backends started in-process with
// the real wiring, sharing one SQLite state file. Membership (everyone sees everyone with role
// and addresses; a node that leaves or stops beating is down), local delivery through a
// frontend into the right backend's Maildir over the delivery channel, 550 at RCPT for unknown
// recipients, 4xx at RCPT when no backend answers, mail kept queued while its home backend is
// down and delivered when it is back, and a 5xx from the backend bounced with a DSN.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startNode } from "../../src/server/node.js";
import { settingsSchema } from "../../src/config/settings.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { startFakeSmtpServer } from "../kit/fake-smtp-server.js";
import { waitFor } from "../kit/load.js";
import { addAccounts, hasMail, SECRET, startCluster, waitForMail, type Cluster } from "./fixtures.js";

const FOUR = [
  { id: "f1", role: "frontend" },
  { id: "f2", role: "frontend" },
  { id: "b1", role: "backend" },
  { id: "b2", role: "backend", extra: { cluster: { submitMessages: "Locally for Others" } } },
] as const;

/** One SMTP transaction; returns the RCPT replies' codes and the final reply's code (null: no DATA). */
async function send(
  port: number,
  from: string,
  to: readonly string[],
  subject: string,
): Promise<{ rcpt: number[]; data: number | null; text: string }> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd(`MAIL FROM:<${from}>`, 250);
    const rcpt: number[] = [];
    for (const r of to) rcpt.push((await c.cmd(`RCPT TO:<${r}>`)).code);
    if (!rcpt.some((x) => x === 250)) {
      await c.cmd("QUIT");
      return { rcpt, data: null, text: "" };
    }
    await c.cmd("DATA", 354);
    const end = await c.cmd(`From: <${from}>\r\nSubject: ${subject}\r\n\r\nHello.\r\n.`);
    await c.cmd("QUIT");
    return { rcpt, data: end.code, text: end.lines.join("\n") };
  } finally {
    c.close();
  }
}

const smtpPort = (c: Cluster, id: string): number => c.node(id).smtp[0]!.port;
const liveIds = (c: Cluster, viewer: string, role?: "frontend" | "backend"): string[] =>
  c
    .node(viewer)
    .membership.live(role)
    .map((m) => m.id);

test("every member registers with its role and addresses and sees the others; leaving or going silent is down", async (t) => {
  const hung = new FakeClock(Date.now());
  const c = await startCluster(t, [...FOUR, { id: "b3", role: "backend", clock: hung }]);
  for (const viewer of ["f1", "f2", "b1", "b2"]) {
    assert.deepEqual(liveIds(c, viewer), ["b1", "b2", "b3", "f1", "f2"], `${viewer}'s view`);
  }
  const rows = await c.state.members();
  const b1 = rows.find((m) => m.id === "b1")!;
  const f1 = rows.find((m) => m.id === "f1")!;
  assert.equal(b1.role, "backend");
  assert.equal(b1.http, `127.0.0.1:${c.node("b1").http.port}`);
  assert.equal(b1.channel, `127.0.0.1:${c.node("b1").channel!.port}`);
  assert.equal(b1.submitMessages, "default");
  assert.equal(rows.find((m) => m.id === "b2")!.submitMessages, "Locally for Others");
  assert.equal(f1.role, "frontend");
  assert.equal(f1.smtp, `127.0.0.1:${smtpPort(c, "f1")}`);
  assert.equal(f1.channel, null);
  assert.equal(c.node("f1").channel, null);

  // b3's clock never moves: its heartbeat timer never fires, as in a hung process.
  c.clock.advance(6_000);
  await c.refreshAll();
  assert.deepEqual(liveIds(c, "f1", "backend"), ["b1", "b2"]);

  // A graceful stop is seen at the next beat, not downAfterSeconds later.
  await c.stop("b2");
  await c.refreshAll();
  assert.deepEqual(liveIds(c, "f1", "backend"), ["b1"]);
  assert.deepEqual(liveIds(c, "b1"), ["b1", "f1", "f2"]);
  const logs = c.logs.get("f1")!.records;
  assert.ok(
    logs.some(
      (r) =>
        r.tag === "CLUSTER" &&
        r.text === "members changed" &&
        r.fields["up"] === "b1(backend),f1(frontend),f2(frontend)",
    ),
  );
});

test("mail through a frontend lands in each account's home backend Maildir; unknown recipients get 550 at RCPT", async (t) => {
  const c = await startCluster(t, FOUR);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b2" });

  const r = await send(
    smtpPort(c, "f1"),
    "sender@remote.test",
    ["alice@example.test", "bob@example.test", "nobody@example.test"],
    "two homes",
  );
  assert.deepEqual(r.rcpt, [250, 250, 550]);
  assert.equal(r.data, 250);
  const alice = await waitForMail(c, "b1", "alice@example.test");
  const bob = await waitForMail(c, "b2", "bob@example.test");
  assert.match(alice[0]!, /^Return-Path: <sender@remote\.test>\r\nDelivered-To: alice@example\.test\r\n/);
  assert.match(alice[0]!, /by f1\.cluster\.test \(Mailyard\)/);
  assert.match(bob[0]!, /Subject: two homes/);
  // Each message only where its account lives; the frontend keeps no mailbox at all.
  assert.equal((await c.mailbox("b2", "alice@example.test")).length, 0);
  assert.equal((await c.mailbox("b1", "bob@example.test")).length, 0);
  assert.equal(existsSync(join(c.root, "f1", "mail")), false);
  await waitFor("f1's queue empty", () => c.node("f1").queue.size() === 0);

  // The other frontend works the same, and an unknown address is refused before the data.
  const r2 = await send(smtpPort(c, "f2"), "sender@remote.test", ["nobody@example.test"], "x");
  assert.deepEqual(r2.rcpt, [550]);
  assert.equal(r2.data, null);
  const unknown = await SmtpClient.connect(smtpPort(c, "f2"));
  t.after(() => unknown.close());
  await unknown.expect(220);
  await unknown.cmd("EHLO client.test", 250);
  await unknown.cmd("MAIL FROM:<sender@remote.test>", 250);
  const refused = await unknown.cmd("RCPT TO:<ghost@example.test>");
  assert.match(refused.raw, /^550 5\.1\.1 /);
});

test("a frontend with no backend answering says 4xx at RCPT and never accepts", async (t) => {
  const c = await startCluster(t, FOUR);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b2" });
  await c.stop("b1");
  await c.stop("b2");
  await c.refreshAll();
  const r = await send(smtpPort(c, "f1"), "sender@remote.test", ["alice@example.test", "x@remote.test"], "x");
  assert.ok(
    r.rcpt.every((code) => code >= 400 && code < 500),
    `RCPT replies ${r.rcpt.join(",")}`,
  );
  assert.equal(r.data, null);
  assert.equal(c.node("f1").queue.size(), 0);
});

test("mail for a backend that is down stays queued on the frontend and is delivered when it is back", async (t) => {
  const c = await startCluster(t, FOUR);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b2" });
  await c.stop("b2");
  await c.refreshAll();

  // b1 still answers the frontend's questions, so bob is accepted; only his mailbox is away.
  const r = await send(smtpPort(c, "f1"), "sender@remote.test", ["bob@example.test"], "while b2 was down");
  assert.deepEqual(r.rcpt, [250]);
  assert.equal(r.data, 250);
  const f1 = c.node("f1");
  await waitFor("bob deferred on f1", () => {
    const rc = f1.queue.list()[0]?.recipients[0];
    return rc !== undefined && rc.attempts >= 1 && rc.status === "pending";
  });
  const [entry] = f1.queue.list();
  assert.match(entry!.recipients[0]!.lastReply ?? "", /^451 .*home backend b2 of bob@example\.test is down/);
  assert.equal(f1.queue.size(), 1);

  await c.start({ id: "b2", role: "backend" });
  await c.refreshAll();
  // The retry is due after queue.firstRetrySeconds (60 s, plus up to 10% jitter).
  await c.passTime(120_000, hasMail(c, "b2", "bob@example.test"));
  const bob = await waitForMail(c, "b2", "bob@example.test");
  assert.match(bob[0]!, /Subject: while b2 was down/);
  await waitFor("f1's queue empty", () => f1.queue.size() === 0);
});

test("a permanent refusal by the backend bounces the recipient with a DSN to the sender", async (t) => {
  const c = await startCluster(t, FOUR);
  await addAccounts(c, {
    "alice@example.test": "b1",
    "carol@example.test": "b2",
  });
  // carol's mail waits on f1 while b2 is down; meanwhile her account is removed.
  await c.stop("b2");
  await c.refreshAll();
  const r = await send(smtpPort(c, "f1"), "alice@example.test", ["carol@example.test"], "to carol");
  assert.equal(r.data, 250);
  const f1 = c.node("f1");
  await waitFor("carol deferred", () => (f1.queue.list()[0]?.recipients[0]?.attempts ?? 0) >= 1);
  await c.directory.removeAccount("carol@example.test");
  await c.start({ id: "b2", role: "backend" });
  await c.refreshAll();
  await c.passTime(120_000, hasMail(c, "b1", "alice@example.test"));

  // b2 answers 550 5.1.1 at the channel's RCPT: bounced, and the report goes to alice on b1.
  const reports = await waitForMail(c, "b1", "alice@example.test");
  assert.match(reports[0]!, /^Return-Path: <>\r\n/);
  assert.match(reports[0]!, /carol@example\.test/);
  assert.match(reports[0]!, /5\.1\.1/);
  await waitFor("f1's queue empty", () => f1.queue.size() === 0);
  assert.equal((await c.mailbox("b2", "carol@example.test")).length, 0);
});

test("a frontend relays remote recipients itself (smtp.forwardTo) and local ones over the channel", async (t) => {
  const sink = await startFakeSmtpServer();
  t.after(() => sink.close());
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: { smtp: { forwardTo: [`127.0.0.1:${sink.port}`] } } },
    { id: "b1", role: "backend" },
  ]);
  await addAccounts(c, { "alice@example.test": "b1" });
  const r = await send(
    smtpPort(c, "f1"),
    "alice@example.test",
    ["alice@example.test", "dave@remote.test"],
    "mixed",
  );
  assert.deepEqual(r.rcpt, [250, 250]);
  await waitForMail(c, "b1", "alice@example.test");
  await sink.waitFor(() => sink.messages.length === 1);
  assert.deepEqual(sink.messages[0]!.rcptTo, ["dave@remote.test"]);
  assert.match(sink.messages[0]!.data.toString(), /Subject: mixed/);
});

test("a backend's cluster API and delivery channel admit only holders of the cluster secret", async (t) => {
  const c = await startCluster(t, [{ id: "b1", role: "backend" }]);
  await addAccounts(c, { "alice@example.test": "b1" });
  const b1 = c.node("b1");
  const api = await fetch(`http://127.0.0.1:${b1.http.port}/cluster/v1/lookup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ address: "alice@example.test" }),
  });
  assert.equal(api.status, 401);
  assert.doesNotMatch(await api.text(), /alice/);
  // The admin server's own routes are still there beside the API.
  assert.equal((await fetch(`http://127.0.0.1:${b1.http.port}/healthz`)).status, 200);

  const lmtp = await SmtpClient.connect(b1.channel!.port);
  t.after(() => lmtp.close());
  await lmtp.expect(220);
  await lmtp.cmd("LHLO intruder.test", 250);
  const refused = await lmtp.cmd("MAIL FROM:<x@remote.test>");
  assert.equal(refused.code, 530);
  const wrong = await lmtp.cmd(`AUTH X-MAILYARD-HMAC f1 ${"0".repeat(64)}`);
  assert.equal(wrong.code, 535);
  assert.equal((await c.mailbox("b1", "alice@example.test")).length, 0);
});

test("startNode runs the role the settings name and refuses a cluster role without a usable secret", async (t) => {
  const c = await startCluster(t, [{ id: "b1", role: "backend" }]);
  const base = {
    dataDir: join(c.root, "n9"),
    state: { url: join(c.root, "state.db") },
    smtp: { listen: ["127.0.0.1:0"] },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
    node: { id: "n9" },
  };
  await assert.rejects(
    startNode(settingsSchema.parse({ ...base, role: "frontend", cluster: { secret: "short" } }), {
      log: memoryLogSink(),
    }),
    /cluster\.secret must be at least 16 characters/,
  );
  await assert.rejects(
    startNode(
      settingsSchema.parse({
        ...base,
        role: "frontend",
        cluster: { secret: SECRET },
        smtp: { forwardTo: ["*"] },
      }),
      { log: memoryLogSink() },
    ),
    /smtp\.forwardTo "\*" .* is for backends/,
  );
  assert.deepEqual(
    (await c.state.members()).map((m) => m.id),
    ["b1"],
    "a refused start registers nothing",
  );
  const n9 = await startNode(
    settingsSchema.parse({ ...base, role: "frontend", cluster: { secret: SECRET } }),
    {
      log: memoryLogSink(),
      world: { clock: c.clock },
    },
  );
  t.after(() => n9.stop());
  await c.refreshAll();
  const row = (await c.state.members()).find((m) => m.id === "n9");
  assert.equal(row?.role, "frontend");
  assert.deepEqual(liveIds(c, "b1"), ["b1", "n9"]);
});

test("a frontend's submission listener authenticates users by asking a backend, then relays for them", async (t) => {
  const sink = await startFakeSmtpServer();
  t.after(() => sink.close());
  const c = await startCluster(t, [
    {
      id: "f1",
      role: "frontend",
      extra: {
        submission: { listen: ["127.0.0.1:0"] },
        submissions: { listen: [] },
        smtp: { authRequiresTls: false, relayNetworks: [], forwardTo: [`127.0.0.1:${sink.port}`] },
      },
    },
    { id: "b1", role: "backend" },
  ]);
  await addAccounts(c, { "alice@example.test": "b1" });
  const plain = (user: string, pw: string) => Buffer.from(`\0${user}\0${pw}`).toString("base64");
  const s = await SmtpClient.connect(c.node("f1").submission[0]!.port);
  t.after(() => s.close());
  await s.expect(220);
  await s.cmd("EHLO client.test", 250);
  await s.cmd(`AUTH PLAIN ${plain("alice@example.test", "wrong")}`, 535);
  await s.cmd(`AUTH PLAIN ${plain("alice@example.test", "alice@example.test-pw")}`, 235);
  await s.cmd("MAIL FROM:<alice@example.test>", 250);
  await s.cmd("RCPT TO:<erin@remote.test>", 250);
  await s.cmd("DATA", 354);
  await s.cmd("Subject: submitted\r\n\r\nhi\r\n.", 250);
  await s.cmd("QUIT", 221);
  await sink.waitFor(() => sink.messages.length === 1);
  assert.equal(sink.messages[0]!.mailFrom, "alice@example.test");
  const asked = c.logs.get("b1")!.records.filter((r) => r.tag === "CLUSTER" && r.text === "password checked");
  assert.deepEqual(
    asked.map((r) => r.fields["ok"]),
    [false, true],
  );
});
