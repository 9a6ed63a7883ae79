// One set of rules for message text, however it arrives (issue 15, items 1 and 7): BDAT text
// bodies obey DATA's CRLF-only rule and smtp.maxDataLine with DATA's replies, and the bytes must
// be what MAIL FROM declared: 8-bit only with BODY=8BITMIME or SMTPUTF8 (RFC 6152 §3), NUL only
// with BODY=BINARYMIME (RFC 3030 §3), which alone stays byte for byte. Over real sockets against
// the engine with the recording test handler.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient, type SmtpReply } from "../kit/smtp-client.js";
import { startTestServer, type TestServer } from "../kit/smtp-server.js";

type After = { after(fn: () => Promise<void>): void };

async function session(t: After, srv: TestServer): Promise<SmtpClient> {
  const c = await SmtpClient.connect(srv.port);
  t.after(() => Promise.resolve(c.close()));
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  return c;
}

/** One BDAT transaction with the body in `chunks`; every reply, in order. */
async function viaBdat(c: SmtpClient, params: string, chunks: readonly Buffer[]): Promise<SmtpReply[]> {
  c.send(`MAIL FROM:<a@b.test>${params}\r\nRCPT TO:<x@y.test>\r\n`);
  chunks.forEach((b, i) =>
    c.send(Buffer.concat([Buffer.from(`BDAT ${b.length}${i === chunks.length - 1 ? " LAST" : ""}\r\n`), b])),
  );
  return c.replies(2 + chunks.length);
}

/** One DATA transaction; the reply after the data. */
async function viaData(c: SmtpClient, params: string, body: Buffer): Promise<SmtpReply> {
  c.send(`MAIL FROM:<a@b.test>${params}\r\nRCPT TO:<x@y.test>\r\nDATA\r\n`);
  const r = await c.replies(3);
  assert.equal(r[2]!.code, 354);
  c.send(Buffer.concat([body, Buffer.from("\r\n.\r\n")]));
  return c.expect();
}

const SMUGGLED = ["\n.\n", "\n.\r\n", "\r.\r", "\r.\n", "\r\n.\n", "\r\n.\r", "bare\nlf", "bare\rcr"];

test("BDAT text with bare CR or LF is refused like DATA (554 5.6.11), not stored", async (t) => {
  const srv = await startTestServer({ smtp: { maxErrors: 100 } });
  t.after(() => srv.close());
  const c = await session(t, srv);
  for (const bad of SMUGGLED) {
    const body = Buffer.from(
      `Subject: x\r\n\r\nbody${bad}MAIL FROM:<evil@b.test>\r\nRCPT TO:<v@y.test>\r\nDATA\r\nforged\r\n`,
    );
    const r = await viaBdat(c, "", [body]);
    assert.equal(
      r[2]!.raw,
      "554 5.6.11 Bare CR or LF in message data is not allowed; use CRLF line endings\r\n",
    );
    assert.equal(
      (await viaData(c, "", body)).raw,
      r[2]!.raw,
      `DATA says the same for ${JSON.stringify(bad)}`,
    );
  }
  // Split over chunks, and a CR that ends the last chunk: the same.
  const split = await viaBdat(c, " BODY=8BITMIME", [Buffer.from("a\r\nb\r"), Buffer.from(".\rc\r\n")]);
  assert.deepEqual(
    split.map((x) => x.code),
    [250, 250, 250, 554],
  );
  assert.equal((await viaBdat(c, "", [Buffer.from("a\r\nend\r")]))[2]!.code, 554);
  // After a refused chunk the transaction is over: a further chunk gets 503.
  c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nBDAT 2\r\na\nBDAT 1 LAST\r\nb");
  assert.deepEqual(
    (await c.replies(4)).map((x) => x.code),
    [250, 250, 554, 503],
  );
  assert.equal(srv.handler.messages.length, 0, "nothing stored");
  // CRLF split between chunks is a line ending like any other.
  const ok = await viaBdat(c, "", [Buffer.from("a\r"), Buffer.from("\nb\r\n")]);
  assert.equal(ok[3]!.code, 250);
  assert.equal(srv.handler.messages[0]!.data.toString(), "a\r\nb\r\n");
});

test("BDAT lines obey smtp.maxDataLine with DATA's reply (a 5 MB line is refused)", async (t) => {
  const srv = await startTestServer({ smtp: { maxErrors: 100 } });
  t.after(() => srv.close());
  const c = await session(t, srv);
  const long = Buffer.concat([
    Buffer.from("Subject: x\r\n\r\n"),
    Buffer.alloc(5 * 1024 * 1024, "a"),
    Buffer.from("\r\n"),
  ]);
  const bdat = await viaBdat(c, "", [long.subarray(0, 3_000_000), long.subarray(3_000_000)]);
  assert.equal(bdat[2]!.raw, "500 5.5.6 Line too long in message data\r\n");
  assert.equal(bdat[3]!.code, 503);
  assert.equal((await viaData(c, "", long)).raw, bdat[2]!.raw);
  // The longest line allowed (65,536 bytes with its CRLF by default) is taken.
  const edge = Buffer.from(`${"b".repeat(65_534)}\r\n`);
  assert.equal((await viaBdat(c, "", [edge]))[2]!.code, 250);
  assert.equal(srv.handler.messages.length, 1);
});

test("8-bit needs BODY=8BITMIME or SMTPUTF8, NUL needs BINARYMIME, in DATA and BDAT (554 5.6.0)", async (t) => {
  const srv = await startTestServer({ smtp: { maxErrors: 100 } });
  t.after(() => srv.close());
  const c = await session(t, srv);
  const eight = Buffer.from("Subject: caf\xe9\r\n\r\nna\xefve\r\n", "latin1");
  const nul = Buffer.from("Subject: x\r\n\r\na\x00b\r\n", "latin1");
  const undeclared = "554 5.6.0 8-bit message data requires BODY=8BITMIME or SMTPUTF8\r\n";
  const nulReply = "554 5.6.0 NUL in message data requires BODY=BINARYMIME\r\n";
  assert.equal((await viaData(c, "", eight)).raw, undeclared);
  assert.equal((await viaBdat(c, "", [eight]))[2]!.raw, undeclared);
  assert.equal((await viaData(c, " BODY=7BIT", eight)).raw, undeclared);
  assert.equal((await viaData(c, " BODY=8BITMIME", nul)).raw, nulReply);
  assert.equal((await viaBdat(c, " BODY=8BITMIME", [nul]))[2]!.raw, nulReply);
  assert.equal((await viaData(c, "", nul)).raw, nulReply);
  assert.equal(srv.handler.messages.length, 0);

  assert.equal((await viaData(c, " BODY=8BITMIME", eight)).code, 250);
  assert.equal((await viaBdat(c, " BODY=8BITMIME", [eight]))[2]!.code, 250);
  assert.equal((await viaData(c, " SMTPUTF8", eight)).code, 250);
  // BINARYMIME takes any bytes (RFC 3030 §3) and keeps them as they are.
  const binary = Buffer.from([0, 0x0d, 0x2e, 0x0a, 0xff, 0x0a, 0x2e, 0x0a, 0x0d]);
  assert.equal((await viaBdat(c, " BODY=BINARYMIME", [binary]))[2]!.code, 250);
  assert.equal(srv.handler.messages.length, 4);
  assert.deepEqual(srv.handler.messages[3]!.data, binary);
});
