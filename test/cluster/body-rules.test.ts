// No backscatter from a cluster (issue 15, item 1): a frontend answered 250 to BDAT mail for a
// local account that the backend then refused on the delivery channel, so the frontend bounced
// it to the claimed sender. Every member now applies the channel's own rules before its 250:
// text is held to DATA's rules at BDAT time (the same decoder the channel's DATA uses), and
// BODY=BINARYMIME, which the channel cannot carry (src/cluster/channel/carries.ts), is refused at RCPT
// for a local account or an alias of one. A frontend and a backend in-process, real sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient, type SmtpReply } from "../kit/smtp-client.js";
import { addAccounts, startCluster, waitForMail } from "./fixtures.js";

/** One BDAT transaction from bob (a local account: backscatter would land in his mailbox). */
async function bdat(port: number, params: string, to: string, body: Buffer): Promise<SmtpReply[]> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    c.send(`MAIL FROM:<bob@example.test>${params}\r\nRCPT TO:<${to}>\r\n`);
    c.send(Buffer.concat([Buffer.from(`BDAT ${body.length} LAST\r\n`), body]));
    const r = await c.replies(3);
    await c.cmd("QUIT");
    return r;
  } finally {
    c.close();
  }
}

test("a frontend refuses before its 250 what the backend's delivery channel would refuse", async (t) => {
  const c = await startCluster(t, [
    { id: "f1", role: "frontend" },
    { id: "b1", role: "backend" },
  ]);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b1" });
  await c.directory.addAlias("info@example.test", ["alice@example.test"]);
  const f1 = c.node("f1").smtp[0]!.port;
  const b1 = c.node("b1").smtp[0]!.port;
  const stray = Buffer.from("From: <bob@example.test>\r\nSubject: x\r\n\r\nbody\n.\nmore\r\n");

  // Text with a bare LF: refused at BDAT time, as the channel's DATA would refuse it.
  const text = await bdat(f1, "", "alice@example.test", stray);
  assert.deepEqual(
    text.map((r) => r.code),
    [250, 250, 554],
  );
  assert.match(text[2]!.raw, /^554 5\.6\.11 /);
  // BINARYMIME for a local account (directly, through an alias, or at a backend whose channel
  // may carry it elsewhere): refused at RCPT with 5.6.3, so no BDAT is ever taken.
  for (const [port, to] of [
    [f1, "alice@example.test"],
    [f1, "info@example.test"],
    [b1, "alice@example.test"],
  ] as const) {
    const r = await bdat(port, " BODY=BINARYMIME", to, stray);
    assert.match(r[1]!.raw, /^554 5\.6\.3 /, `${to} at ${port === f1 ? "f1" : "b1"}`);
    assert.notEqual(r[2]!.code, 250);
  }
  assert.equal(c.node("f1").queue.size(), 0, "nothing was queued to bounce later");

  // A clean message takes the same path to the backend's Maildir; no report reached bob.
  const clean = Buffer.from("From: <bob@example.test>\r\nSubject: clean\r\n\r\nhello\r\n");
  assert.equal((await bdat(f1, " BODY=8BITMIME", "alice@example.test", clean))[2]!.code, 250);
  const got = await waitForMail(c, "b1", "alice@example.test");
  assert.equal(got.length, 1);
  assert.match(got[0]!, /Subject: clean/);
  assert.deepEqual(await c.mailbox("b1", "bob@example.test"), []);
});
