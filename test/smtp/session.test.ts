// The engine's verbs over a real socket, one command at a time.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "../kit/smtp-client.js";
import { startTestServer } from "../kit/smtp-server.js";
import { testHandler } from "../kit/smtp-handler.js";
import { REPLIES, reply } from "../../src/proto/reply.js";

test("greeting, EHLO extensions, a message, QUIT", async (t) => {
  const srv = await startTestServer({ smtp: { maxMessageSize: 1000 } });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  const greet = await c.expect(220);
  assert.equal(greet.raw, "220 mx.test ESMTP Mailyard\r\n");
  const ehlo = await c.cmd("EHLO client.test", 250);
  assert.deepEqual(ehlo.lines, [
    "mx.test Hello client.test",
    "PIPELINING",
    "SIZE 1000",
    "8BITMIME",
    "SMTPUTF8",
    "ENHANCEDSTATUSCODES",
    "DSN",
    "CHUNKING",
    "BINARYMIME",
    "HELP",
  ]);
  assert.ok(!ehlo.lines.some((l) => l.startsWith("AUTH")), "no AUTH without TLS");
  assert.ok(!ehlo.lines.includes("STARTTLS"), "no STARTTLS without a certificate");
  assert.equal((await c.cmd("MAIL FROM:<a@b.test> SIZE=100", 250)).raw, "250 2.1.0 Sender OK\r\n");
  await c.cmd("RCPT TO:<x@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y.test", 250);
  await c.cmd("RCPT TO:<unknown@y.test>", 550);
  await c.cmd("DATA", 354);
  c.send("Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n");
  await c.expect(250);
  await c.cmd("QUIT", 221);
  await c.closed();
  const m = srv.handler.messages[0]!;
  assert.equal(m.from, "a@b.test");
  assert.equal(m.params.size, 100);
  assert.deepEqual(m.rcpts, [
    { address: "x@y.test", params: { notify: ["SUCCESS", "FAILURE"], orcpt: "rfc822;x@y.test" } },
  ]);
  assert.equal(m.data.toString(), "Subject: hi\r\n\r\n.dot\r\nbody\r\n");
  assert.equal(m.session.helo, "client.test");
  assert.equal(m.session.esmtp, true);
  await srv.handler.waitClosed(1);
  assert.ok(
    srv.logs.some((r) => r.text === "connect" && r.tag === "SMTPI" && r.session > 0 && r.session < 1_000_000),
  );
  assert.ok(srv.logs.some((r) => r.text === "disconnect" && r.fields.messages === 1));
});

test("sequence and syntax errors", async (t) => {
  const srv = await startTestServer({ smtp: { maxErrors: 100 } });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  assert.equal((await c.cmd("MAIL FROM:<a@b.test>")).raw, "503 5.5.1 Send HELO/EHLO first\r\n");
  assert.equal((await c.cmd("HELO")).code, 501);
  assert.equal((await c.cmd("HELO client.test")).raw, "250 mx.test\r\n");
  assert.equal((await c.cmd("RCPT TO:<a@b.test>")).raw, "503 5.5.1 Need MAIL command first\r\n");
  assert.equal((await c.cmd("DATA")).raw, "503 5.5.1 Need MAIL command first\r\n");
  assert.equal((await c.cmd("MAIL FROM:<a@b.test> SIZE=10")).code, 555, "no parameters after HELO");
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  assert.equal((await c.cmd("MAIL FROM:<a@b.test>")).raw, "503 5.5.1 Sender already specified\r\n");
  assert.equal((await c.cmd("DATA")).raw, "503 5.5.1 Need RCPT command first\r\n");
  await c.cmd("RSET", 250);
  await c.cmd("RCPT TO:<a@b.test>", 503);
  assert.equal((await c.cmd("NOOP whatever")).raw, "250 2.0.0 OK\r\n");
  assert.equal((await c.cmd("HELP")).code, 214);
  assert.equal((await c.cmd("XYZZY")).raw, "500 5.5.2 Syntax error, command unrecognized\r\n");
  assert.equal((await c.cmd("")).code, 500);
  assert.equal((await c.cmd("RSET now")).code, 501);
  await c.cmd("EHLO client.test", 250);
  assert.equal((await c.cmd("MAIL FROM:a@b.test")).raw, "501 5.1.7 Bad sender address syntax\r\n");
  assert.equal(
    (await c.cmd("MAIL FROM:<a@b.test> FOO=BAR")).raw,
    "555 5.5.4 MAIL FROM/RCPT TO parameter not recognized or not implemented\r\n",
  );
  assert.equal((await c.cmd("MAIL FROM:<a@b.test> SIZE=1 SIZE=2")).code, 501);
  assert.equal(
    (await c.cmd("MAIL FROM:<jöran@b.test>")).raw,
    "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n",
  );
  await c.cmd("MAIL FROM:<jöran@b.test> SMTPUTF8", 250);
  assert.equal((await c.cmd("RCPT TO:<bad address>")).raw, "501 5.1.3 Bad recipient address syntax\r\n");
  await c.cmd("RCPT TO:<用户@例子.test>", 250);
  assert.equal((await c.cmd("RCPT TO:<x@y.test> NOTIFY=NEVER,SUCCESS")).code, 501);
  await c.cmd("RCPT TO:<Postmaster>", 250);
  assert.ok(srv.handler.calls.includes("rcpt postmaster@mx.test"));
  await c.cmd("QUIT", 221);
});

test("null sender, SIZE over the limit at MAIL, BINARYMIME refuses DATA", async (t) => {
  const srv = await startTestServer({ smtp: { maxMessageSize: 5000 } });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  assert.equal(
    (await c.cmd("MAIL FROM:<a@b.test> SIZE=5001")).raw,
    "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
  );
  await c.cmd("MAIL FROM:<> BODY=BINARYMIME", 250);
  assert.ok(srv.handler.calls.includes("mail "));
  await c.cmd("RCPT TO:<x@y.test>", 250);
  assert.equal((await c.cmd("DATA")).raw, "503 5.5.1 BODY=BINARYMIME requires BDAT, not DATA\r\n");
  await c.cmd("QUIT", 221);
});

test("VRFY is off by default and asks the handler when on", async (t) => {
  const off = await startTestServer();
  t.after(() => off.close());
  const c = await SmtpClient.connect(off.port);
  await c.expect(220);
  assert.equal((await c.cmd("VRFY alice")).raw, "502 5.5.1 VRFY command is disabled\r\n");
  assert.ok(!off.handler.calls.some((x) => x.startsWith("vrfy")));
  c.close();

  const on = await startTestServer({ smtp: { vrfy: true } });
  t.after(() => on.close());
  const d = await SmtpClient.connect(on.port);
  await d.expect(220);
  assert.equal((await d.cmd("VRFY <alice@b.test>")).code, 252);
  assert.ok(on.handler.calls.includes("vrfy alice@b.test"));
  d.close();
});

test("handler refusals and failures become replies", async (t) => {
  const handler = testHandler({
    mailFrom: (_s, from) =>
      from === "boom@b.test" ? Promise.reject(new Error("db down")) : Promise.resolve(REPLIES.okSender),
    endReply: () => Promise.resolve(REPLIES.queueFull),
  });
  const srv = await startTestServer({ handler });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  assert.equal(
    (await c.cmd("MAIL FROM:<boom@b.test>")).raw,
    "451 4.3.0 Local error in processing, try again later\r\n",
  );
  await c.cmd("MAIL FROM:<ok@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  await c.cmd("DATA", 354);
  c.send("x\r\n.\r\n");
  assert.equal((await c.expect()).raw, "452 4.3.1 Insufficient system storage, try again later\r\n");
  assert.equal(srv.handler.messages.length, 0);
  // The transaction is over after the data, whatever the outcome.
  await c.cmd("RCPT TO:<x@y.test>", 503);
  c.close();
});

test("a connect refusal is sent and the connection closed", async (t) => {
  const handler = testHandler({ connect: () => Promise.resolve(reply(554, "5.7.1", "Go away")) });
  const srv = await startTestServer({ handler });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  assert.equal((await c.expect()).raw, "554 5.7.1 Go away\r\n");
  await c.closed();
});

test("a connect hook that fails keeps the client out (421)", async (t) => {
  const handler = testHandler({ connect: () => Promise.reject(new Error("policy store down")) });
  const srv = await startTestServer({ handler });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  assert.equal((await c.expect()).raw, "421 4.3.2 Service not available, closing transmission channel\r\n");
  await c.closed();
});
