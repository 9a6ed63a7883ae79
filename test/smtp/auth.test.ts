// AUTH PLAIN/LOGIN and STARTTLS over real sockets, including STARTTLS command injection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "../kit/smtp-client.js";
import { startTestServer } from "../kit/smtp-server.js";
import { FakeClock } from "../kit/clock.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

async function ready(port: number): Promise<SmtpClient> {
  const c = await SmtpClient.connect(port);
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  return c;
}

test("AUTH PLAIN and LOGIN in the clear when authRequiresTls is false", async (t) => {
  const srv = await startTestServer({ smtp: { authRequiresTls: false, maxErrors: 50 } });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  assert.equal((await c.cmd(`AUTH PLAIN ${b64("\0alice\0secret")}`)).code, 503, "AUTH needs EHLO first");
  const ehlo = await c.cmd("EHLO client.test", 250);
  assert.ok(ehlo.lines.includes("AUTH PLAIN LOGIN"));
  assert.equal(
    (await c.cmd(`AUTH PLAIN ${b64("\0alice\0wrong")}`)).raw,
    "535 5.7.8 Authentication credentials invalid\r\n",
  );
  assert.equal((await c.cmd("AUTH CRAM-MD5")).raw, "504 5.5.4 Unrecognized authentication type\r\n");
  assert.equal((await c.cmd("AUTH PLAIN !!notbase64")).code, 501);
  // PLAIN with the credentials after an empty 334.
  assert.equal((await c.cmd("AUTH PLAIN")).raw, "334 \r\n");
  assert.equal((await c.cmd("*")).raw, "501 5.0.0 Authentication cancelled\r\n");
  assert.equal((await c.cmd("AUTH PLAIN")).code, 334);
  assert.equal((await c.cmd(b64("alice\0alice\0secret"))).raw, "235 2.7.0 Authentication successful\r\n");
  assert.equal(
    (await c.cmd(`AUTH PLAIN ${b64("\0alice\0secret")}`)).raw,
    "503 5.5.1 Already authenticated\r\n",
  );
  await c.cmd("MAIL FROM:<alice@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  await c.cmd("DATA", 354);
  c.send("x\r\n.\r\n");
  await c.expect(250);
  assert.equal(srv.handler.messages[0]!.session.authUser, "alice");
  assert.equal(srv.handler.messages[0]!.session.tls, false);
  c.close();

  const d = await ready(srv.port);
  assert.equal((await d.cmd("AUTH LOGIN")).raw, "334 VXNlcm5hbWU6\r\n");
  assert.equal((await d.cmd(b64("alice"))).raw, "334 UGFzc3dvcmQ6\r\n");
  assert.equal((await d.cmd(b64("nope"))).code, 535);
  assert.equal((await d.cmd(`AUTH LOGIN ${b64("alice")}`)).raw, "334 UGFzc3dvcmQ6\r\n");
  assert.equal((await d.cmd(b64("secret"))).code, 235);
  d.close();
  // Passwords never reach the log.
  const logged = JSON.stringify(srv.logs);
  assert.ok(!logged.includes("secret") && !logged.includes(b64("secret")) && !logged.includes("wrong"));
  assert.ok(srv.logs.some((r) => r.text === "authentication failed" && r.fields.user === "alice"));
});

test("AUTH mid-transaction is refused", async (t) => {
  const srv = await startTestServer({ smtp: { authRequiresTls: false } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  await c.cmd("MAIL FROM:<a@b.test>", 250);
  assert.equal((await c.cmd(`AUTH PLAIN ${b64("\0alice\0secret")}`)).code, 503);
  c.close();
});

test("STARTTLS, then AUTH: AUTH is neither offered nor accepted in the clear", async (t) => {
  const srv = await startTestServer({ tls: true });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  const before = await c.cmd("EHLO client.test", 250);
  assert.ok(before.lines.includes("STARTTLS"));
  assert.ok(!before.lines.some((l) => l.startsWith("AUTH")));
  assert.equal(
    (await c.cmd(`AUTH PLAIN ${b64("\0alice\0secret")}`)).raw,
    "538 5.7.11 Encryption required for requested authentication mechanism\r\n",
  );
  assert.ok(!srv.handler.calls.some((x) => x.startsWith("auth")), "credentials never reached the handler");
  assert.equal((await c.cmd("STARTTLS")).raw, "220 2.0.0 Ready to start TLS\r\n");
  const secure = await c.startTls();
  assert.ok(secure.encrypted);
  assert.equal((await c.cmd("MAIL FROM:<a@b.test>")).code, 503, "EHLO is forgotten after STARTTLS");
  const after = await c.cmd("EHLO client.test", 250);
  assert.ok(after.lines.includes("AUTH PLAIN LOGIN"));
  assert.ok(!after.lines.includes("STARTTLS"));
  assert.equal((await c.cmd("STARTTLS")).raw, "503 5.5.1 TLS already active\r\n");
  await c.cmd(`AUTH PLAIN ${b64("\0alice\0secret")}`, 235);
  await c.cmd("MAIL FROM:<alice@b.test>", 250);
  await c.cmd("RCPT TO:<x@y.test>", 250);
  await c.cmd("DATA", 354);
  c.send("over tls\r\n.\r\n");
  await c.expect(250);
  await c.cmd("QUIT", 221);
  const m = srv.handler.messages[0]!;
  assert.equal(m.session.tls, true);
  assert.equal(m.session.authUser, "alice");
  assert.equal(m.data.toString(), "over tls\r\n");
});

test("STARTTLS injection: commands pipelined after STARTTLS are discarded (CVE-2011-0411)", async (t) => {
  const srv = await startTestServer({ tls: true });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  c.send("STARTTLS\r\nMAIL FROM:<evil@attacker.test>\r\nRCPT TO:<victim@y.test>\r\n");
  assert.equal((await c.expect()).code, 220);
  await c.startTls();
  await c.cmd("EHLO client.test", 250);
  // Had the injected MAIL run, this would be "503 sender already specified".
  await c.cmd("MAIL FROM:<good@b.test>", 250);
  assert.ok(!srv.handler.calls.some((x) => x.includes("evil") || x.includes("victim")));
  assert.ok(srv.logs.some((r) => r.text === "discarded input pipelined after STARTTLS"));
  c.close();
});

test("STARTTLS without a certificate: 454; a failed handshake closes the session", async (t) => {
  const plain = await startTestServer();
  t.after(() => plain.close());
  const c = await ready(plain.port);
  assert.equal((await c.cmd("STARTTLS")).raw, "454 4.7.0 TLS not available\r\n");
  c.close();

  const srv = await startTestServer({ tls: true });
  t.after(() => srv.close());
  const d = await ready(srv.port);
  await d.cmd("STARTTLS", 220);
  d.send("this is not a TLS ClientHello\r\n");
  await d.closed();
  await srv.handler.waitClosed(1);
  assert.ok(srv.logs.some((r) => r.text === "TLS handshake failed"));
});

test("a client that stalls in the TLS handshake is cut off by the idle timeout", async (t) => {
  const clock = new FakeClock();
  const srv = await startTestServer({ tls: true, clock, smtp: { idleTimeoutSeconds: 30 } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  await c.cmd("STARTTLS", 220);
  clock.advance(30_000);
  await c.closed();
  await srv.handler.waitClosed(1);
  assert.ok(srv.logs.some((r) => r.text === "idle timeout"));
});
