// Milters in a cluster run on frontends only, and every message passes them once: mail from
// the Internet is filtered by the frontend that receives it and reaches its backend over the
// delivery channel unfiltered; mail a Remotely backend generates goes to a frontend over
// XSUBMIT unfiltered and that frontend filters it (the submission API's path, and a Sieve
// vacation reply to mail that came in through the frontend). Both nodes name the same scriptable milter
// in smtp.milters; it counts the messages it sees (end of message commands) and adds a header
// each time, so a second filtering would show as a second header.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { EnvelopeDraft } from "../../src/queue/types.js";
import { openSqliteRuleStore } from "../../src/rules/sqlite-store.js";
import { waitFor } from "../kit/load.js";
import { startSink } from "../kit/sink.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { addHeader, frameOf, replyCode, startFakeMilter } from "../kit/fake-milter.js";
import { addAccounts, startCluster, waitForMail } from "./fixtures.js";

const draft = (to: readonly string[]): EnvelopeDraft => ({
  returnPath: "alice@example.test",
  recipients: to.map((address) => ({ address, original: null, notify: null, orcpt: null })),
  ret: null,
  envid: null,
  body: "8BITMIME",
  smtputf8: false,
  source: "api",
  authUser: "alice@example.test",
  client: null,
  arrival: Date.now(),
});

test("a Remotely backend's mail is filtered once, on the frontend; Internet mail once, not again on the backend", async (t) => {
  const milter = await startFakeMilter({
    script: (c) =>
      c.cmd === "E" ? { kind: "frames", frames: [addHeader("X-Filtered", "once"), frameOf("c")] } : undefined,
  });
  t.after(() => milter.stop());
  const eoms = () => milter.connections.flat().filter((c) => c.cmd === "E").length;
  const sink = await startSink();
  t.after(() => sink.stop());
  const milters = [`inet:127.0.0.1:${milter.port}`];
  const c = await startCluster(t, [
    {
      id: "f1",
      role: "frontend",
      extra: {
        smtp: { forwardTo: [`127.0.0.1:${sink.port}`], milters },
        cluster: { submitMessages: "Locally for Others" },
      },
    },
    {
      id: "b1",
      role: "backend",
      extra: { smtp: { forwardTo: ["*"], milters }, cluster: { submitMessages: "Remotely" } },
    },
  ]);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b1" });
  const b1 = c.node("b1");

  // Generated on the backend (the submission API's path; vacation replies take the same one).
  const out = await b1.submitter.submit(
    draft(["dave@remote.test"]),
    Buffer.from("From: <alice@example.test>\r\nSubject: out\r\n\r\nHello.\r\n"),
  );
  assert.ok(out.ok && out.remote && out.node === "f1", JSON.stringify(out));
  await waitFor("relayed by f1", async () => (await sink.count()) === 1);
  const [relayed = ""] = await sink.messages();
  assert.equal(relayed.match(/^X-Filtered: once\r?$/gm)?.length, 1, relayed);
  assert.equal(eoms(), 1, "the milter saw the message once");

  // From the Internet to a backend account: filtered by f1, not again by b1.
  const s = await SmtpClient.connect(c.node("f1").smtp[0]!.port);
  await s.expect(220);
  await s.cmd("EHLO client.test", 250);
  await s.cmd("MAIL FROM:<carol@remote.test>", 250);
  await s.cmd("RCPT TO:<bob@example.test>", 250);
  await s.cmd("DATA", 354);
  s.send("From: <carol@remote.test>\r\nSubject: in\r\n\r\nHi Bob.\r\n.\r\n");
  await s.expect(250);
  await s.cmd("QUIT");
  s.close();
  const [stored = ""] = await waitForMail(c, "b1", "bob@example.test");
  assert.equal(stored.match(/^X-Filtered: once\r?$/gm)?.length, 1, stored);
  assert.equal(eoms(), 2, "one more message, one more end of message");

  // A Sieve vacation reply made on the backend to mail that came through the frontend: the
  // incoming message and the reply are each filtered once, both on f1.
  const rules = openSqliteRuleStore(join(c.root, "state.db"));
  await rules.setSieve(
    "alice@example.test",
    'require "vacation";\nvacation :days 2 :subject "Away" "Back on Monday.";',
  );
  await rules.close();
  const v = await SmtpClient.connect(c.node("f1").smtp[0]!.port);
  await v.expect(220);
  await v.cmd("EHLO client.test", 250);
  await v.cmd("MAIL FROM:<friend@remote.test>", 250);
  await v.cmd("RCPT TO:<alice@example.test>", 250);
  await v.cmd("DATA", 354);
  v.send("From: <friend@remote.test>\r\nTo: <alice@example.test>\r\nSubject: lunch?\r\n\r\nHi.\r\n.\r\n");
  await v.expect(250);
  await v.cmd("QUIT");
  v.close();
  await waitFor("the vacation reply at the sink", async () => (await sink.count()) === 2);
  const reply = (await sink.messages()).find((m) => /Back on Monday/.test(m)) ?? "";
  assert.match(reply, /Subject: Away/);
  assert.equal(reply.match(/^X-Filtered: once\r?$/gm)?.length, 1, reply);
  assert.equal(eoms(), 4, "the message to alice and her vacation reply: one end of message each");
  assert.equal(b1.queue.size(), 0, "the reply went to the frontend (Remotely)");
});

test("a frontend milter's 5xx to a Remotely backend's message is the answer: the backend does not queue it itself", async (t) => {
  const milter = await startFakeMilter({
    script: (c) =>
      c.cmd === "L" && c.data.toString("latin1").startsWith("Subject\0virus")
        ? { kind: "frames", frames: [replyCode("554 5.7.1 Infected")] }
        : undefined,
  });
  t.after(() => milter.stop());
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await startCluster(t, [
    {
      id: "f1",
      role: "frontend",
      extra: {
        smtp: { forwardTo: [`127.0.0.1:${sink.port}`], milters: [`inet:127.0.0.1:${milter.port}`] },
        cluster: { submitMessages: "Locally for Others" },
      },
    },
    {
      id: "b1",
      role: "backend",
      extra: { smtp: { forwardTo: ["*"] }, cluster: { submitMessages: "Remotely" } },
    },
  ]);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b1" });
  const b1 = c.node("b1");
  const out = await b1.submitter.submit(
    draft(["dave@remote.test", "bob@example.test"]),
    Buffer.from("From: <alice@example.test>\r\nSubject: virus\r\n\r\nX\r\n"),
  );
  assert.ok(!out.ok && out.reply.code === 554, JSON.stringify(out));
  assert.equal(b1.queue.size(), 0, "not queued on the backend either");
  assert.equal(c.node("f1").queue.size(), 0);
  // A clean one still goes through.
  const ok = await b1.submitter.submit(
    draft(["dave@remote.test"]),
    Buffer.from("From: <alice@example.test>\r\nSubject: fine\r\n\r\nX\r\n"),
  );
  assert.ok(ok.ok && ok.remote, JSON.stringify(ok));
  await waitFor("relayed", async () => (await sink.count()) === 1);
  assert.equal(await sink.count(), 1);
});
