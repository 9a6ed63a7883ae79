// Rules in a running cluster (two frontends, one backend, one shared state file): a cluster
// rule adds a header on every node that enqueues (the frontends for mail from outside, the
// backend for the vacation reply it generates), and an account's Sieve vacation on its backend
// answers mail that came through a frontend, once, through the backend's queue.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openSqliteRuleStore } from "../../src/rules/sqlite-store.js";
import { parseRules } from "../../src/rules/seed/text.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { startFakeSmtpServer } from "../kit/fake-smtp-server.js";
import { addAccounts, startCluster, waitForMail } from "./fixtures.js";

async function send(port: number, from: string, to: string, subject: string): Promise<number> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd(`MAIL FROM:<${from}>`, 250);
    await c.cmd(`RCPT TO:<${to}>`, 250);
    await c.cmd("DATA", 354);
    const end = await c.cmd(`From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\n\r\nHello.\r\n.`);
    await c.cmd("QUIT");
    return end.code;
  } finally {
    c.close();
  }
}

test("a cluster rule adds a header on every enqueuing node; a backend's vacation answers mail from a frontend once", async (t) => {
  const sink = await startFakeSmtpServer();
  t.after(() => sink.close());
  const out = { smtp: { forwardTo: [`127.0.0.1:${sink.port}`] } };
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: out },
    { id: "f2", role: "frontend", extra: out },
    { id: "b1", role: "backend", extra: out },
  ]);
  await addAccounts(c, { "alice@example.test": "b1" });
  const rules = openSqliteRuleStore(join(c.root, "state.db"));
  await rules.setRules({ kind: "cluster" }, parseRules('(1,mark,(),(("Add Header","X-Cluster-Rule: yes")))'));
  await rules.setSieve(
    "alice@example.test",
    'require "vacation";\nvacation :days 2 :subject "Away" "Back on Monday.";',
  );
  await rules.close();

  assert.equal(
    await send(c.node("f1").smtp[0]!.port, "friend@remote.test", "alice@example.test", "first"),
    250,
  );
  assert.equal(
    await send(c.node("f2").smtp[0]!.port, "friend@remote.test", "alice@example.test", "second"),
    250,
  );
  const mail = await waitForMail(c, "b1", "alice@example.test", 2);
  for (const m of mail)
    assert.match(
      m,
      /^Return-Path: <friend@remote\.test>\r\nDelivered-To: alice@example\.test\r\nX-Cluster-Rule: yes\r\n/,
    );
  assert.ok(
    mail.some((m) => /by f1\.cluster\.test/.test(m)) && mail.some((m) => /by f2\.cluster\.test/.test(m)),
  );

  await sink.waitFor(() => sink.messages.length >= 1);
  const reply = sink.messages[0]!;
  assert.deepEqual(reply.rcptTo, ["friend@remote.test"]);
  assert.equal(reply.mailFrom, "");
  const text = reply.data.toString();
  assert.match(text, /Subject: Away/);
  assert.match(text, /Auto-Submitted: auto-replied/);
  assert.match(text, /X-Cluster-Rule: yes/, "the backend's enqueuer applied the cluster rule too");
  assert.match(text, /Back on Monday\./);
  // the second message is within the vacation period: no second reply
  assert.ok(
    c.logs
      .get("b1")!
      .records.some(
        (r) => r.tag === "RULES" && r.text === "vacation not sent" && r.fields["why"] === "replied",
      ),
  );
  assert.equal(sink.messages.length, 1);
});
