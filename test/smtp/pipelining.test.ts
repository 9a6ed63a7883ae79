// smtp.forbidUnauthPipelining, as Postfix's smtpd_forbid_unauth_pipelining behaves (checked
// against Postfix 3.7.11, which has the 3.9 feature): a client that has not logged in and sends
// ahead of a reply it must wait for (RFC 2920 §3.1: after EHLO, HELO, DATA, NOOP, VRFY; after
// anything without PIPELINING) gets 554 5.5.0 instead of that command's reply and is
// disconnected, and nothing it sent ahead is acted on. Commands after the end of data are a legal
// group (message content may start one, §3.1). Logged-in clients and the default are unaffected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "../kit/smtp-client.js";
import { startTestServer } from "../kit/smtp-server.js";

const b64 = (s: string): string => Buffer.from(s, "latin1").toString("base64");
const SYNC = "554 5.5.0 Error: SMTP protocol synchronization\r\n";
const forbid = { forbidUnauthPipelining: true, authRequiresTls: false };

async function session(smtp: Record<string, unknown>) {
  const srv = await startTestServer({ smtp });
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  return { srv, c };
}

void test("message content sent with DATA, before the 354: 554 5.5.0, disconnected, nothing accepted", async (t) => {
  const { srv, c } = await session(forbid);
  t.after(() => srv.close());
  t.after(() => c.close());
  await c.cmd("EHLO client.test", 250);
  c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\nSubject: early\r\n\r\nbody\r\n.\r\nQUIT\r\n");
  const [mail, rcpt, data] = [await c.expect(250), await c.expect(250), await c.reply()];
  assert.equal(mail.code, 250);
  assert.equal(rcpt.code, 250);
  assert.equal(data?.raw, SYNC);
  assert.equal(await c.reply(), null, "nothing after the 554");
  await c.closed();
  assert.ok(!srv.handler.calls.includes("open"), "no message was opened");
  assert.ok(!srv.handler.calls.includes("end"), "no message was accepted");
  assert.ok(srv.logs.some((r) => r.text === "improper command pipelining" && r.fields["after"] === "DATA"));
});

void test("commands ahead of the EHLO reply, or pipelined without PIPELINING: 554 5.5.0 instead", async (t) => {
  const a = await session(forbid);
  t.after(() => a.srv.close());
  t.after(() => a.c.close());
  a.c.send("EHLO client.test\r\nMAIL FROM:<a@b.test>\r\n");
  assert.equal((await a.c.reply())?.raw, SYNC);
  await a.c.closed();
  assert.ok(!a.srv.handler.calls.some((x) => x.startsWith("mail ")));

  const h = await session(forbid);
  t.after(() => h.srv.close());
  t.after(() => h.c.close());
  await h.c.cmd("HELO client.test", 250);
  h.c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\n");
  assert.equal((await h.c.reply())?.raw, SYNC);
  await h.c.closed();
  assert.ok(!h.srv.handler.calls.some((x) => x.startsWith("mail ")));
});

void test("commands pipelined after the end of data and after BDAT LAST stay in step", async (t) => {
  const { srv, c } = await session(forbid);
  t.after(() => srv.close());
  t.after(() => c.close());
  await c.cmd("EHLO client.test", 250);
  c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n");
  assert.deepEqual(
    (await c.replies(3)).map((r) => r.code),
    [250, 250, 354],
  );
  c.send(
    "Subject: one\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nBDAT 5 LAST\r\nhelloQUIT\r\n",
  );
  assert.deepEqual(
    (await c.replies(5)).map((r) => r.code),
    [250, 250, 250, 250, 221],
  );
  assert.equal(srv.handler.calls.filter((x) => x === "end").length, 2);
});

void test("a logged-in client may pipeline as it likes", async (t) => {
  const { srv, c } = await session(forbid);
  t.after(() => srv.close());
  t.after(() => c.close());
  await c.cmd("EHLO client.test", 250);
  await c.cmd(`AUTH PLAIN ${b64("\0alice\0secret")}`, 235);
  c.send(
    "NOOP\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\nSubject: early\r\n\r\nbody\r\n.\r\nQUIT\r\n",
  );
  assert.deepEqual(
    (await c.replies(6)).map((r) => r.code),
    [250, 250, 250, 354, 250, 221],
  );
  assert.ok(srv.handler.calls.includes("end"));
});

void test("off by default: content sent with DATA is taken as today", async (t) => {
  const { srv, c } = await session({});
  t.after(() => srv.close());
  t.after(() => c.close());
  c.send(
    "EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\nSubject: early\r\n\r\nbody\r\n.\r\nQUIT\r\n",
  );
  assert.deepEqual(
    (await c.replies(6)).map((r) => r.code),
    [250, 250, 250, 354, 250, 221],
  );
  assert.ok(srv.handler.calls.includes("end"));
});
