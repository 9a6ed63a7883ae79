// BDAT (RFC 3030 CHUNKING) over a real socket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "../kit/smtp-client.js";
import { startTestServer } from "../kit/smtp-server.js";

async function ready(port: number): Promise<SmtpClient> {
  const c = await SmtpClient.connect(port);
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  return c;
}

test("chunks, pipelined, binary-transparent, ended by LAST", async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv.port);
  const one = Buffer.from("Subject: b\r\n\r\n.\r\nbare\nlf\r");
  const two = Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]);
  c.send("MAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<x@y.test>\r\n");
  c.send(
    Buffer.concat([
      Buffer.from(`BDAT ${one.length}\r\n`),
      one,
      Buffer.from(`BDAT ${two.length} LAST\r\n`),
      two,
    ]),
  );
  const r = await c.replies(4);
  assert.deepEqual(
    r.map((x) => x.code),
    [250, 250, 250, 250],
  );
  assert.equal(r[2]!.raw, `250 2.0.0 ${one.length} octets received\r\n`);
  assert.deepEqual(srv.handler.messages[0]!.data, Buffer.concat([one, two]));
  assert.equal(srv.handler.messages[0]!.params.body, "BINARYMIME");
  // BDAT 0 LAST ends an (empty-chunk) message; the session carries on.
  c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nBDAT 3\r\nabcBDAT 0 LAST\r\nNOOP\r\n");
  assert.deepEqual(
    (await c.replies(5)).map((x) => x.code),
    [250, 250, 250, 250, 250],
  );
  assert.equal(srv.handler.messages[1]!.data.toString(), "abc");
  c.close();
});

test("a chunk trickling in over many writes", async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv.port);
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  c.send("BDAT 10 LAST\r\n");
  for (const ch of "0123456789") c.send(ch);
  await c.expect(250);
  assert.equal(srv.handler.messages[0]!.data.toString(), "0123456789");
  c.close();
});

test("sequence errors still consume the chunk; DATA after BDAT is refused", async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await ready(srv.port);
  c.send("BDAT 4\r\nNOOPNOOP\r\n");
  const r = await c.replies(2);
  assert.equal(r[0]!.raw, "503 5.5.1 Need MAIL command first\r\n");
  assert.equal(r[1]!.code, 250, "the four bytes were the chunk, not a command");
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  c.send("BDAT 2\r\nxx");
  assert.equal((await c.expect()).raw, "503 5.5.1 Need RCPT command first\r\n");
  await c.cmd("RCPT TO:<x@y.test>", 250);
  c.send("BDAT 2\r\nxx");
  await c.expect(250);
  assert.equal((await c.cmd("DATA")).raw, "503 5.5.1 Bad sequence of commands\r\n");
  assert.equal((await c.cmd("BDAT x")).code, 501);
  await c.cmd("RSET", 250);
  assert.equal(srv.handler.aborted, 1, "RSET drops the open message");
  c.close();
});

test("BDAT over the size limit: 552, the message dropped, later chunks 503", async (t) => {
  const srv = await startTestServer({ smtp: { maxMessageSize: 10 } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  c.send("BDAT 6\r\n123456BDAT 6\r\n123456BDAT 1 LAST\r\nx");
  const r = await c.replies(3);
  assert.deepEqual(
    r.map((x) => x.code),
    [250, 552, 503],
  );
  assert.equal(r[1]!.raw, "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  assert.equal(srv.handler.aborted, 1);
  assert.equal(srv.handler.messages.length, 0);
  assert.equal((await c.cmd("NOOP")).code, 250);
  c.close();
});
