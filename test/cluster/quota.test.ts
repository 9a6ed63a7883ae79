// Over quota in a real 1-frontend/2-backend cluster (issue 20 item 2), for a message sent without
// SIZE, whose size the frontend learns only at its end. smtp.overQuota = reject: the frontend asks
// a backend for the account's usage, as at RCPT, and answers 552 5.2.2 at end of DATA (the client's
// one report). smtp.overQuota = queue (a frontend and its backend): accepted, retried, and after
// local.overQuotaGiveUpHours
// (24 h) bounced with one DSN that says the mailbox is full, on the fake clock, not after 5 days.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "../kit/smtp-client.js";
import { startFakeSmtpServer } from "../kit/fake-smtp-server.js";
import { waitFor } from "../kit/load.js";
import { startCluster, waitForMail } from "./fixtures.js";

/** One message without SIZE; the code at end of data and its text. */
async function send(port: number, bodyBytes: number): Promise<{ code: number; text: string }> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<friend@remote.test>", 250);
    await c.cmd("RCPT TO:<alice@example.test>", 250);
    await c.cmd("DATA", 354);
    const line = "y".repeat(98) + "\r\n";
    const end = await c.cmd(`Subject: big\r\n\r\n${line.repeat(Math.ceil(bodyBytes / 100))}.`);
    await c.cmd("QUIT");
    return { code: end.code, text: end.lines.join(" ") };
  } finally {
    c.close();
  }
}

test("reject: a size-less message bigger than the room left gets 552 5.2.2 at end of DATA from the frontend", async (t) => {
  const c = await startCluster(t, [
    { id: "f1", role: "frontend" },
    { id: "b1", role: "backend" },
    { id: "b2", role: "backend" },
  ]);
  await c.directory.addDomain("example.test");
  await c.directory.addAccount("alice@example.test", "pw", { quotaBytes: 2000 });
  await c.state.setHome("alice@example.test", "b1");
  const f1 = c.node("f1").smtp[0]!.port;

  const big = await send(f1, 3000);
  assert.equal(big.code, 552);
  assert.match(big.text, /5\.2\.2/);
  assert.equal(c.node("f1").queue.size(), 0, "nothing queued for it");
  // one that fits is taken and stored
  assert.equal((await send(f1, 500)).code, 250);
  await waitForMail(c, "b1", "alice@example.test");
});

test("queue: a size-less over-quota message is retried, then bounced after 24 h with one DSN: mailbox full", async (t) => {
  const sink = await startFakeSmtpServer();
  t.after(() => sink.close());
  // The fake clock jumps from attempt to attempt: heartbeats are left to the test (refreshAll),
  // and no member is taken for down by a jump.
  const extra = {
    smtp: { overQuota: "queue", forwardTo: [`127.0.0.1:${sink.port}`] },
    cluster: { heartbeatSeconds: 86_400, downAfterSeconds: 30 * 86_400 },
  };
  // One backend: every member's state file is polled on the fake clock, 24 h of it per member.
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra },
    { id: "b1", role: "backend", extra },
  ]);
  await c.directory.addDomain("example.test");
  await c.directory.addAccount("alice@example.test", "pw", { quotaBytes: 2000 });
  await c.state.setHome("alice@example.test", "b1");
  const start = c.clock.now();

  assert.equal((await send(c.node("f1").smtp[0]!.port, 3000)).code, 250);
  const queue = c.node("f1").queue;
  const id = queue.list()[0]!.id;
  // The message's one recipient while it waits; undefined once it is settled (the delay warning
  // at 4 h is another message in this queue).
  const rcpt = () => {
    const r = queue.show(id)?.recipients[0];
    return r?.status === "pending" ? r : undefined;
  };
  await waitFor("the first attempt is deferred", () => (rcpt()?.attempts ?? 0) >= 1);
  assert.match(rcpt()!.lastReply ?? "", /^452 4\.2\.2 /);

  // Jump to each next attempt until the recipient is settled (bounded: the schedule has about
  // 55 attempts in 24 h; 5 days would take some 280).
  // A report this queue sends meanwhile (the delay warning) leaves before the next jump: the
  // relay's reply timers run on the same clock, so a jump in mid-conversation would time it out.
  const othersGone = () => queue.list().every((m) => m.id === id);
  for (let i = 0; i < 100; i++) {
    await waitFor("the reports sent so far have left", othersGone);
    const r = rcpt();
    if (r === undefined) break;
    c.clock.advance(Math.max(0, r.nextAttempt - c.clock.now()));
    await c.refreshAll();
    await waitFor("the attempt is done", () => (rcpt()?.attempts ?? Infinity) > r.attempts);
  }
  assert.equal(rcpt(), undefined, "given up");
  const elapsed = c.clock.now() - start;
  assert.ok(elapsed >= 24 * 3600_000 && elapsed < 25 * 3600_000, `gave up after ${elapsed / 3600_000} h`);

  const reportsNow = () =>
    sink.messages.filter((m) => m.mailFrom === "" && m.rcptTo.includes("friend@remote.test"));
  await sink.waitFor(() => reportsNow().some((m) => /^Action: failed$/m.test(m.data.toString())));
  const reports = reportsNow();
  // the delay warning at 4 h (queue.delayWarningSeconds), then one failure report
  assert.deepEqual(
    reports.map((m) => /^Action: (\w+)$/m.exec(m.data.toString())?.[1]),
    ["delayed", "failed"],
  );
  const dsn = reports[1]!.data.toString();
  assert.match(dsn, /^Status: 5\.2\.2$/m);
  assert.match(dsn, /^Diagnostic-Code: smtp; 452 4\.2\.2 .*Mailbox full/m);
  assert.match(dsn, /alice@example\.test.*Mailbox full/);
  assert.deepEqual(await c.mailbox("b1", "alice@example.test"), []);
});
