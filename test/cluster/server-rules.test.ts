// Server-wide rules belong to one node (issue 20 item 1): in a real 1-frontend/2-backend cluster
// sharing one state file, a server rule set stored through b1's admin API runs only where b1
// enqueues (the vacation reply b1 generates), not on the frontend that enqueues mail from
// outside, nor on b2; the cluster rule set still runs on every member.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadOrCreateAdminToken } from "../../src/admin/token.js";
import { openSqliteRuleStore } from "../../src/rules/sqlite-store.js";
import { parseRules } from "../../src/rules/seed/text.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { startFakeSmtpServer } from "../kit/fake-smtp-server.js";
import { addAccounts, startCluster, waitForMail } from "./fixtures.js";

async function send(port: number, from: string, to: string): Promise<number> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd(`MAIL FROM:<${from}>`, 250);
    await c.cmd(`RCPT TO:<${to}>`, 250);
    await c.cmd("DATA", 354);
    const end = await c.cmd(`From: <${from}>\r\nTo: <${to}>\r\nSubject: hello\r\n\r\nHello.\r\n.`);
    await c.cmd("QUIT");
    return end.code;
  } finally {
    c.close();
  }
}

const header = (m: string): string => m.slice(0, m.indexOf("\r\n\r\n"));

test("a server rule set on b1 edits only what b1 enqueues; the cluster rule set runs everywhere", async (t) => {
  const sink = await startFakeSmtpServer();
  t.after(() => sink.close());
  const out = { smtp: { forwardTo: [`127.0.0.1:${sink.port}`] } };
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: out },
    { id: "b1", role: "backend", extra: out },
    { id: "b2", role: "backend", extra: out },
  ]);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b2" });
  const rules = openSqliteRuleStore(join(c.root, "state.db"));
  await rules.setRules({ kind: "cluster" }, parseRules('(1,all,(),(("Add Header","X-Cluster: yes")))'));
  const away = 'require "vacation";\nvacation :days 2 :subject "Away" "Not here.";';
  await rules.setSieve("alice@example.test", away);
  await rules.setSieve("bob@example.test", away);
  await rules.close();

  // The operator stores b1's server rules through b1's own admin API (no node named: its own).
  const token = await loadOrCreateAdminToken(join(c.root, "b1"));
  const res = await fetch(`http://127.0.0.1:${c.node("b1").http.port}/api/rules/server`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ text: '(1,b1,(),(("Add Header","X-B1-Server: yes")))' }),
  });
  assert.equal(res.status, 200);

  const f1 = c.node("f1").smtp[0]!.port;
  assert.equal(await send(f1, "friend@remote.test", "alice@example.test"), 250);
  assert.equal(await send(f1, "friend@remote.test", "bob@example.test"), 250);
  const [toAlice] = await waitForMail(c, "b1", "alice@example.test");
  const [toBob] = await waitForMail(c, "b2", "bob@example.test");
  for (const m of [toAlice!, toBob!]) {
    assert.match(header(m), /^X-Cluster: yes$/m, "f1 ran the cluster rules");
    assert.doesNotMatch(header(m), /X-B1-Server/, "f1 did not run b1's server rules");
  }

  // Each backend enqueues its account's vacation reply: b1's has b1's header, b2's has not.
  await sink.waitFor(() => sink.messages.length >= 2);
  const replyFrom = (account: string): string => {
    const m = sink.messages.find((x) => new RegExp(`^From: .*${account}`, "mi").test(x.data.toString()));
    assert.ok(m, `a vacation reply from ${account}`);
    return header(m.data.toString());
  };
  const fromAlice = replyFrom("alice@example.test");
  const fromBob = replyFrom("bob@example.test");
  assert.match(fromAlice, /^X-B1-Server: yes$/m);
  assert.match(fromAlice, /^X-Cluster: yes$/m);
  assert.doesNotMatch(fromBob, /X-B1-Server/);
  assert.match(fromBob, /^X-Cluster: yes$/m);
});
