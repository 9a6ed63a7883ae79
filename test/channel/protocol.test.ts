// The channel server's protocol, driven byte by byte with a raw socket: the greeting and its
// nonce, LHLO (and EHLO refused), AUTH with the cluster secret (wrong proof, replayed proof,
// unknown mechanism), everything refused before AUTH, per-recipient replies after the data in
// RCPT order, dot-unstuffing, bare LF and size refusals, and the error limit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { proof } from "../../src/cluster/secret.js";
import { REPLIES } from "../../src/proto/reply.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { SECRET, fakeBackend, notOwner, startServer } from "./fixtures.js";

async function connect(
  t: { after(fn: () => void): void },
  port: number,
): Promise<{ c: SmtpClient; nonce: string }> {
  const c = await SmtpClient.connect(port);
  t.after(() => c.close());
  const g = await c.expect(220);
  const m = /^backend1\.test LMTP ([0-9a-f]{32})$/.exec(g.lines[0] ?? "");
  assert.ok(m, `greeting: ${g.raw}`);
  return { c, nonce: m[1]! };
}

const authLine = (nonce: string, node = "frontend1", secret = SECRET): string =>
  `AUTH X-MAILYARD-HMAC ${node} ${proof(secret, "lmtp", nonce, node)}`;

test("greeting nonce, LHLO capabilities, AUTH failures and success, nothing before AUTH", async (t) => {
  const { port, backend, logs } = await startServer(t, fakeBackend(), {
    maxMessageSize: 5000,
    limits: { maxErrors: 50 },
  });
  const { c, nonce } = await connect(t, port);
  const other = await connect(t, port);
  assert.notEqual(nonce, other.nonce);

  await c.cmd("EHLO frontend1.test", 500);
  await c.cmd(authLine(nonce), 503);
  const lhlo = await c.cmd("LHLO frontend1.test", 250);
  assert.deepEqual(lhlo.lines, [
    "backend1.test",
    "PIPELINING",
    "ENHANCEDSTATUSCODES",
    "8BITMIME",
    "SMTPUTF8",
    "SIZE 5000",
    "DSN",
    "AUTH X-MAILYARD-HMAC",
  ]);
  for (const cmd of ["MAIL FROM:<a@origin.test>", "RCPT TO:<b@example.test>", "DATA"]) {
    const r = await c.cmd(cmd, 530);
    assert.match(r.lines[0]!, /^5\.7\.0 /);
  }
  // Proofs for another nonce (a replay from another connection), another node id, another
  // secret, and garbage, then an unknown mechanism.
  for (const bad of [
    authLine(other.nonce),
    authLine(nonce, "frontend1").replace("frontend1", "frontend2"),
    authLine(nonce, "frontend1", "some other secret value"),
    "AUTH X-MAILYARD-HMAC frontend1 secret",
  ]) {
    const r = await c.cmd(bad, 535);
    assert.match(r.lines[0]!, /^5\.7\.8 /);
  }
  await c.cmd("AUTH PLAIN AGZvbwBiYXI=", 504);
  await c.cmd("MAIL FROM:<a@origin.test>", 530);
  assert.deepEqual(backend.admitted, []);

  await c.cmd(authLine(nonce), 235);
  await c.cmd(authLine(nonce), 503);
  await c.cmd("MAIL FROM:<a@origin.test>", 250);
  await c.cmd("RCPT TO:<b@example.test>", 250);
  await c.cmd("RSET", 250);
  await c.cmd("QUIT", 221);
  await c.closed();
  const failures = logs.records.filter((r) => r.text === "authentication failed");
  assert.deepEqual(
    failures.map((r) => `${r.fields.code} ${r.fields.node}`),
    ["535 frontend1", "535 frontend2", "535 frontend1", "535 frontend1", "504 "],
  );
  assert.equal(logs.records.find((r) => r.text === "authenticated")?.fields.node, "frontend1");
});

test("pipelined transaction: one reply per accepted recipient after the data, in RCPT order", async (t) => {
  const backend = fakeBackend(
    { nobody: REPLIES.unknownUser, moved: notOwner },
    { full: REPLIES.overQuotaTemp, off: REPLIES.mailboxDisabled },
  );
  const { port } = await startServer(t, backend);
  const { c, nonce } = await connect(t, port);
  await c.cmd("LHLO frontend1.test", 250);
  await c.cmd(authLine(nonce), 235);
  c.send(
    "MAIL FROM:<bob@origin.test> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x+2By\r\n" +
      "RCPT TO:<alice@example.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;Alice+40old.test\r\n" +
      "RCPT TO:<nobody@example.test>\r\n" +
      "RCPT TO:<full@example.test>\r\n" +
      "RCPT TO:<moved@example.test>\r\n" +
      "RCPT TO:<off@example.test>\r\n" +
      "DATA\r\n",
  );
  const before = await c.replies(7);
  assert.deepEqual(
    before.map((r) => `${r.code} ${r.lines[0]!.slice(0, 5)}`),
    ["250 2.1.0", "250 2.1.5", "550 5.1.1", "250 2.1.5", "450 4.2.0", "250 2.1.5", "354 End d"],
  );
  c.send("Subject: pipelined\r\n\r\n..stuffed\r\n.\r\n");
  const after = await c.replies(3);
  assert.deepEqual(
    after.map((r) => `${r.code} ${r.lines[0]}`),
    [
      "250 2.0.0 <alice@example.test> Delivered",
      "452 4.2.2 <full@example.test> Mailbox full",
      "550 5.2.1 <off@example.test> Mailbox disabled, not accepting messages",
    ],
  );
  assert.equal(backend.messages[0]!.toString(), "Subject: pipelined\r\n\r\n.stuffed\r\n");
  const env = backend.jobs[0]!.envelope;
  assert.equal(env.envid, "x+y");
  assert.equal(env.ret, "HDRS");
  assert.deepEqual(env.recipients[0]!.notify, ["SUCCESS", "DELAY"]);
  assert.equal(env.recipients[0]!.orcpt, "rfc822;Alice@old.test");
  assert.equal(env.client?.helo, "frontend1.test");
  // The session goes on: a second transaction on the same connection.
  c.send("MAIL FROM:<>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
  await c.replies(3);
  c.send("second\r\n.\r\n");
  assert.match((await c.expect(250)).lines[0]!, /<alice@example\.test>/);
  assert.equal(backend.jobs[1]!.envelope.returnPath, "");
});

test("bare LF, too big, no valid recipients, bad parameters: refused without delivering", async (t) => {
  const { port, backend } = await startServer(t, fakeBackend({ nobody: REPLIES.unknownUser }), {
    maxMessageSize: 100,
  });
  const { c, nonce } = await connect(t, port);
  await c.cmd("LHLO frontend1.test", 250);
  await c.cmd(authLine(nonce), 235);

  c.send("MAIL FROM:<a@origin.test>\r\nRCPT TO:<x@example.test>\r\nRCPT TO:<y@example.test>\r\nDATA\r\n");
  await c.replies(4);
  // A bare LF "terminator" does not end the data; the real one does, and both recipients hear why.
  c.send("Subject: smuggle\r\n\r\nhi\n.\nMAIL FROM:<evil@x.test>\r\n.\r\n");
  const smuggled = await c.replies(2);
  assert.deepEqual(
    smuggled.map((r) => `${r.code} ${r.lines[0]!.slice(0, 28)}`),
    ["554 5.6.11 <x@example.test> Bare", "554 5.6.11 <y@example.test> Bare"],
  );

  c.send("MAIL FROM:<a@origin.test>\r\nRCPT TO:<x@example.test>\r\nDATA\r\n");
  await c.replies(3);
  c.send(`${"x".repeat(150)}\r\n.\r\n`);
  assert.match((await c.expect(552)).lines[0]!, /^5\.3\.4 <x@example\.test>/);

  await c.cmd("MAIL FROM:<a@origin.test> SIZE=101", 552);
  c.send("MAIL FROM:<a@origin.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n");
  assert.deepEqual(
    (await c.replies(3)).map((r) => r.code),
    [250, 550, 503],
  );
  await c.cmd("RCPT TO:<x@example.test> NOTIFY=SOMETIMES", 501);
  await c.cmd("RCPT TO:<x@example.test> FOO=1", 555);
  await c.cmd("RSET", 250);
  // The channel has no BDAT: BINARYMIME cannot cross it (RFC 3030 §3, carries.ts).
  await c.cmd("MAIL FROM:<a@origin.test> BODY=BINARYMIME", 554);
  await c.cmd("MAIL FROM:<ä@origin.test>", 553);
  assert.equal(backend.jobs.length, 0);
});

test("a peer that has not authenticated is cut off after maxErrors", async (t) => {
  const { port } = await startServer(t, fakeBackend(), { limits: { maxErrors: 3 } });
  const { c } = await connect(t, port);
  await c.cmd("LHLO frontend1.test", 250);
  await c.cmd("MAIL FROM:<a@origin.test>", 530);
  await c.cmd("AUTH X-MAILYARD-HMAC frontend1 00", 535);
  c.send("BOGUS\r\n");
  assert.equal((await c.expect(500)).code, 500);
  const bye = await c.expect(421);
  assert.match(bye.lines[0]!, /^4\.7\.0 Too many errors/);
  await c.closed();
});

test("close() ends waiting sessions with 421", async (t) => {
  const { port, server } = await startServer(t);
  const { c } = await connect(t, port);
  await c.cmd("LHLO frontend1.test", 250);
  await server.close();
  assert.match((await c.expect(421)).lines[0]!, /^4\.3\.2 /);
  await c.closed();
});
