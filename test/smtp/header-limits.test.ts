// The header section's limits over a real socket, for DATA and BDAT: smtp.maxHeaderBytes (552
// 5.3.4) and smtp.maxHeaderFields (554 5.6.0), refused when the data ends (BDAT: at the chunk
// that breaks the limit), nothing accepted, the session goes on.
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

const TOO_BIG = "552 5.3.4 Message header exceeds fixed maximum size\r\n";
const TOO_MANY = "554 5.6.0 Message header has too many fields\r\n";

test("DATA: a header folded over 200,000 lines passes the line limit but not smtp.maxHeaderBytes", async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  assert.equal(srv.settings.smtp.maxHeaderBytes, 262_144, "the default");
  const c = await ready(srv.port);
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  await c.cmd("DATA", 354);
  c.send("Subject: money\r\n" + " money\r\n".repeat(200_000) + "\r\nbody\r\n.\r\n");
  assert.equal((await c.expect()).raw, TOO_BIG);
  assert.equal(srv.handler.messages.length, 0);
  assert.ok(srv.handler.calls.includes("abort"), "the sink was told to drop the text");
  // the session is in step: the next message goes through
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  await c.cmd("DATA", 354);
  c.send("Subject: short\r\n\r\nbody\r\n.\r\n");
  await c.expect(250);
  assert.equal(srv.handler.messages.length, 1);
  c.close();
});

test("DATA: more fields than smtp.maxHeaderFields get 554 5.6.0; exactly the limit passes", async (t) => {
  const srv = await startTestServer({ smtp: { maxHeaderFields: 50 } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  const send = async (fields: number): Promise<string> => {
    await c.cmd("MAIL FROM:<a@b.test>", 250);
    await c.cmd("RCPT TO:<x@y.test>", 250);
    await c.cmd("DATA", 354);
    c.send("X-A: 1\r\n".repeat(fields) + "\r\n" + "Not-A-Field: body\r\n".repeat(100) + ".\r\n");
    return (await c.expect()).raw;
  };
  assert.equal(await send(51), TOO_MANY);
  assert.match(await send(50), /^250 /);
  assert.equal(srv.handler.messages.length, 1);
  c.close();
});

test("BDAT: the chunk that takes the header past a limit gets the reply, later chunks 503", async (t) => {
  const srv = await startTestServer({ smtp: { maxHeaderBytes: 2000, maxHeaderFields: 20 } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  const bdat = async (chunks: string[], params = ""): Promise<string[]> => {
    await c.cmd(`MAIL FROM:<a@b.test>${params}`, 250);
    await c.cmd("RCPT TO:<x@y.test>", 250);
    c.send(
      chunks
        .map((x, i) => `BDAT ${Buffer.byteLength(x)}${i === chunks.length - 1 ? " LAST" : ""}\r\n${x}`)
        .join(""),
    );
    return (await c.replies(chunks.length)).map((r) => r.raw);
  };
  const big = await bdat(["Subject: x\r\n", " y\r\n".repeat(1000), "\r\nbody\r\n"]);
  assert.equal(big[1], TOO_BIG);
  assert.match(big[2]!, /^503 /);
  const many = await bdat(["A: 1\r\n".repeat(15), "B: 2\r\n".repeat(6), "\r\nbody\r\n"]);
  assert.equal(many[1], TOO_MANY);
  // a binary body is not text, but its header is measured all the same (bare LF ends its lines)
  const binary = await bdat(["Subject: x\n", " y\n".repeat(1000), "\nbody\0\n"], " BODY=BINARYMIME");
  assert.equal(binary[1], TOO_BIG);
  assert.equal(srv.handler.messages.length, 0);
  assert.equal(srv.handler.aborted, 3);
  const fine = await bdat(["A: 1\r\n".repeat(19), "\r\n" + "B: 2\r\n".repeat(500)]);
  assert.match(fine[1]!, /^250 /);
  assert.equal(srv.handler.messages.length, 1);
  c.close();
});
