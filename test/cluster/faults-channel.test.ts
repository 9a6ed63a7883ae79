// Fault tests of the delivery channel with real member processes (processes-kit.ts): in a
// dynamic cluster the backend owning an account's lease is killed with SIGKILL, and mail sent
// afterwards is stored by the other backend, once the dead one's lease has run out, under a
// greater fencing token and into the same shared Maildir; and a permanent refusal over the
// channel (5xx per recipient) bounces that recipient with exactly one DSN, to a local sender on
// another backend (one for two recipients refused in separate deliveries) and to a remote sender
// through smtp.forwardTo, and is never retried.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { waitFor } from "../kit/load.js";
import { startSink } from "../kit/sink.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { dynamicTakeoverUnderLoad } from "./dynamic-takeover.js";
import { maildir, startProcCluster } from "./processes-kit.js";

/** One SMTP transaction through a member; `beforeData` runs after the RCPT replies. */
async function send(
  port: number,
  from: string,
  to: string | readonly string[],
  subject: string,
  o: { body?: string; beforeData?: () => Promise<void> } = {},
): Promise<void> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd(`MAIL FROM:<${from}>`, 250);
    for (const r of typeof to === "string" ? [to] : to) await c.cmd(`RCPT TO:<${r}>`, 250);
    await o.beforeData?.();
    await c.cmd("DATA", 354);
    await c.cmd(`From: <${from}>\r\nSubject: ${subject}\r\n\r\n${o.body ?? "Hello."}\r\n.`, 250);
    await c.cmd("QUIT", 221);
  } finally {
    c.close();
  }
}

test("dynamic cluster: the lease owner killed with SIGKILL, later mail is stored by the other backend under a greater token", async (t) => {
  const c = await startProcCluster(t, ["cluster.kind=dynamic", "cluster.leaseSeconds=2"]);
  const shared = join(c.root, "shared-mail");
  await c.directory.addDomain("example.test");
  await c.directory.addAccount("alice@example.test", "pw");
  const backends = new Map([
    ["b1", await c.start("b1", "backend", [`local.mailDir=${shared}`])],
    ["b2", await c.start("b2", "backend", [`local.mailDir=${shared}`])],
  ]);
  const f1 = await c.start("f1", "frontend");
  await c.waitLive([f1, ...backends.values()], ["b1", "b2", "f1"]);

  await send(f1.smtp, "x@remote.test", "alice@example.test", "before");
  await waitFor(
    "the first message stored",
    async () => (await maildir(shared, "alice@example.test")).length === 1,
  );
  const first = await c.state.leaseOf("alice@example.test", Date.now());
  assert.ok(first !== null, "storing took the account's lease");
  const owner = backends.get(first.owner)!;
  const other = backends.get(first.owner === "b1" ? "b2" : "b1")!;
  assert.match((await maildir(shared, "alice@example.test"))[0]!.name, new RegExp(`P${owner.pid}Q`));

  // No goodbye: the lease stays the dead owner's until it runs out (leaseSeconds).
  await owner.kill("SIGKILL");
  const after = ["after-1", "after-2", "after-3"];
  for (const s of after) await send(f1.smtp, "x@remote.test", "alice@example.test", s);
  await waitFor(
    "the later messages stored",
    async () => (await maildir(shared, "alice@example.test")).length === 1 + after.length,
    30_000,
  );
  const second = await c.state.leaseOf("alice@example.test", Date.now());
  assert.equal(second?.owner, other.id);
  assert.ok(second.token > first.token, `token ${second.token} > ${first.token}`);
  const stored = await maildir(shared, "alice@example.test");
  for (const s of after) {
    const m = stored.find((x) => x.text.includes(`\r\nSubject: ${s}\r\n`));
    assert.ok(m !== undefined, `${s} stored`);
    assert.match(m.name, new RegExp(`P${other.pid}Q`), `${s} written by ${other.id}`);
    // Maildir names start with the time of the write (seconds, then microseconds): the takeover
    // waited for the dead owner's lease to run out (it can only have been renewed later still).
    const [, sec = "0", usec = "0"] = /^(\d+)\.M(\d+)P/.exec(m.name) ?? [];
    const writtenAt = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    assert.ok(
      writtenAt >= first.expiresAt,
      `${s} written at ${writtenAt}, lease ran out at ${first.expiresAt}`,
    );
  }
  assert.equal(stored.length, 1 + after.length, "each message once");
  await waitFor("f1's queue empty", async () => (await f1.health()).queue === 0, 15_000);
});

test("a permanent refusal over the delivery channel bounces the recipient with exactly one DSN and no retry", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await startProcCluster(t);
  await c.directory.addDomain("example.test");
  const homes = {
    "alice@example.test": "b1",
    "carol@example.test": "b2",
    "erin@example.test": "b2",
    "dave@example.test": "b2",
  };
  for (const [address, home] of Object.entries(homes)) {
    await c.directory.addAccount(
      address,
      "pw",
      /^(carol|erin)@/.test(address) ? { maxMessageSize: 500 } : {},
    );
    await c.state.setHome(address, home);
  }
  const b1 = await c.start("b1", "backend");
  const b2 = await c.start("b2", "backend");
  const f1 = await c.start("f1", "frontend", [`smtp.forwardTo=127.0.0.1:${sink.port}`]);
  await c.waitLive([f1], ["b1", "b2", "f1"]);

  // carol's and erin's limit is checked only where their mailboxes are: without SIZE= the
  // frontend cannot know. Each is a delivery of its own over the channel; one report for both.
  await send(f1.smtp, "alice@example.test", ["carol@example.test", "erin@example.test"], "too big", {
    body: "y".repeat(76).concat("\r\n").repeat(30),
  });
  // dave is disabled after the frontend accepted him at RCPT (its answer came from a backend).
  await send(f1.smtp, "x@remote.test", "dave@example.test", "for dave", {
    beforeData: async () => void (await c.directory.updateAccount("dave@example.test", { enabled: false })),
  });

  const mailRoot = (id: string): string => join(c.root, id, "mail");
  await waitFor(
    "alice's report",
    async () => (await maildir(mailRoot("b1"), "alice@example.test")).length > 0,
  );
  await waitFor("x's report at the sink", async () => (await sink.count()) > 0);
  // Nothing is left to retry or report once the frontend's queue is empty.
  await waitFor("f1's queue empty", async () => (await f1.health()).queue === 0, 15_000);

  const reports = await maildir(mailRoot("b1"), "alice@example.test");
  assert.equal(reports.length, 1, "exactly one report to alice");
  const report = reports[0]!.text;
  assert.match(report, /^Return-Path: <>\r\n/);
  assert.match(report, /Final-Recipient: rfc822; ?carol@example\.test/i);
  assert.match(report, /Final-Recipient: rfc822; ?erin@example\.test/i);
  assert.match(report, /Status: 5\.3\.4/);
  const atSink = await sink.messages();
  assert.equal(atSink.length, 1, "exactly one report to x@remote.test");
  assert.match(atSink[0]!, /Final-Recipient: rfc822; ?dave@example\.test/i);
  assert.match(atSink[0]!, /Status: 5\.2\.1/);
  assert.match(atSink[0]!, /^X-Mail-Args: <>$/m);
  assert.match(atSink[0]!, /^X-Rcpt-Args: <x@remote\.test>/m);
  assert.equal((await maildir(mailRoot("b2"), "carol@example.test")).length, 0);
  assert.equal((await maildir(mailRoot("b2"), "dave@example.test")).length, 0);

  // Each refusal was asked of b2 once: the frontend did not try again.
  const bounces = b2.lines().filter((l) => / LOCAL-\d+\(\) delivery bounced /.test(l));
  assert.equal(bounces.filter((l) => l.includes("to=carol@example.test")).length, 1, bounces.join("\n"));
  assert.equal(bounces.filter((l) => l.includes("to=erin@example.test")).length, 1, bounces.join("\n"));
  assert.equal(bounces.filter((l) => l.includes("to=dave@example.test")).length, 1, bounces.join("\n"));
  const f1Bounced = f1.lines().filter((l) => / QUEUE-\d+\(\) recipient status .*status=bounced/.test(l));
  assert.equal(f1Bounced.length, 3, f1Bounced.join("\n"));
  void b1;
});

test("dynamic cluster under load: a lease owner killed with SIGKILL mid-load, every acknowledged message reaches the shared Maildir", (t) =>
  dynamicTakeoverUnderLoad(t, {}));
