// DATA framing over a real socket: pipelining, dot-stuffing, size and line limits, and SMTP
// smuggling attempts (CVE-2023-51764 family).
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "../kit/smtp-client.js";
import { startTestServer } from "../kit/smtp-server.js";
import { testHandler } from "../kit/smtp-handler.js";
import { REPLIES } from "../../src/proto/reply.js";

async function ready(port: number): Promise<SmtpClient> {
  const c = await SmtpClient.connect(port);
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  return c;
}

test("pipelined commands in one write are answered in order, with a slow handler call", async (t) => {
  let released = 0;
  const handler = testHandler({
    rcptTo: async (_s, _tx, to) => {
      // A slower lookup for one recipient must not let later commands overtake it.
      if (to.startsWith("slow")) for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      released++;
      return to.startsWith("unknown") ? REPLIES.unknownUser : REPLIES.okRecipient;
    },
  });
  const srv = await startTestServer({ handler });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  c.send(
    "EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<slow@y.test>\r\nRCPT TO:<unknown@y.test>\r\nRCPT TO:<z@y.test>\r\nDATA\r\n",
  );
  const codes = (await c.replies(6)).map((r) => r.code);
  assert.deepEqual(codes, [250, 250, 250, 550, 250, 354]);
  assert.equal(released, 3);
  // Message text, the next transaction and QUIT all in one write too.
  c.send("Subject: 1\r\n\r\none\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<z@y.test>\r\nDATA\r\n");
  assert.deepEqual(
    (await c.replies(4)).map((r) => r.code),
    [250, 250, 250, 354],
  );
  c.send("Subject: 2\r\n\r\ntwo\r\n.\r\nQUIT\r\n");
  assert.deepEqual(
    (await c.replies(2)).map((r) => r.code),
    [250, 221],
  );
  await c.closed();
  assert.deepEqual(
    srv.handler.messages.map((m) => [m.data.toString(), m.rcpts.map((r) => r.address)]),
    [
      ["Subject: 1\r\n\r\none\r\n", ["slow@y.test", "z@y.test"]],
      ["Subject: 2\r\n\r\ntwo\r\n", ["z@y.test"]],
    ],
  );
});

test("RFC 2920: DATA after pipelined RCPTs that all failed gets 554", async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv.port);
  c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<unknown1@y.test>\r\nRCPT TO:<unknown2@y.test>\r\nDATA\r\n");
  const r = await c.replies(4);
  assert.deepEqual(
    r.map((x) => x.code),
    [250, 550, 550, 554],
  );
  assert.equal(r[3]!.raw, "554 5.5.1 No valid recipients\r\n");
  c.close();
});

test("message text sent byte by byte arrives whole", async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv.port);
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  await c.cmd("DATA", 354);
  for (const ch of "Subject: s\r\n\r\n..\r\n..x\r\nend\r\n.\r\n") c.send(ch);
  await c.expect(250);
  assert.equal(srv.handler.messages[0]!.data.toString(), "Subject: s\r\n\r\n.\r\n.x\r\nend\r\n");
  c.close();
});

for (const smuggle of ["\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n"]) {
  test(`smuggling with ${JSON.stringify(smuggle)} is refused as one bad message`, async (t) => {
    const srv = await startTestServer();
    t.after(() => srv.close());
    const c = await ready(srv.port);
    c.send("MAIL FROM:<good@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n");
    assert.deepEqual(
      (await c.replies(3)).map((r) => r.code),
      [250, 250, 354],
    );
    c.send(
      `Subject: first\r\n\r\nhello${smuggle}MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<victim@y.test>\r\nDATA\r\n` +
        "Subject: forged\r\n\r\nforged\r\n.\r\n",
    );
    const end = await c.expect();
    assert.equal(
      end.raw,
      "554 5.6.11 Bare CR or LF in message data is not allowed; use CRLF line endings\r\n",
    );
    // The session is back at the command stage: the next command is a command, not data.
    assert.equal((await c.cmd("NOOP")).code, 250);
    assert.equal(srv.handler.messages.length, 0, "nothing accepted");
    assert.ok(!srv.handler.calls.some((x) => x.includes("evil")), "the smuggled MAIL never ran");
    assert.ok(srv.handler.calls.includes("abort"), "the sink was told to drop the text");
    c.close();
  });
}

test("size over the limit in the data itself: 552 at the end, session goes on", async (t) => {
  const srv = await startTestServer({ smtp: { maxMessageSize: 100 } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  await c.cmd("MAIL FROM:<a@b.test> SIZE=50", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  await c.cmd("DATA", 354);
  c.send(`${"x".repeat(70)}\r\n${"y".repeat(70)}\r\n.\r\n`);
  assert.equal((await c.expect()).raw, "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  assert.equal(srv.handler.aborted, 1);
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  await c.cmd("DATA", 354);
  c.send("short\r\n.\r\n");
  await c.expect(250);
  assert.equal(srv.handler.messages.length, 1);
  c.close();
});

test("a data line over maxDataLine is refused at the end", async (t) => {
  const srv = await startTestServer({ smtp: { maxDataLine: 1000 } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  await c.cmd("DATA", 354);
  c.send(`${"x".repeat(999)}\r\n.\r\n`);
  assert.equal((await c.expect()).raw, "500 5.5.6 Line too long in message data\r\n");
  assert.equal(srv.handler.messages.length, 0);
  c.close();
});

test("the client going away mid-data aborts the sink", async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv.port);
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  await c.cmd("DATA", 354);
  c.send("partial text\r\n");
  c.close();
  await srv.handler.waitClosed(1);
  assert.equal(srv.handler.aborted, 1);
  assert.equal(srv.handler.messages.length, 0);
});
