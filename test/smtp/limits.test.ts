// Limits and hostile clients: recipients, errors, long lines, timeouts (fake clock), connection
// limits, HTTP probes, early talkers, and server shutdown.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient } from "../kit/smtp-client.js";
import { startTestServer } from "../kit/smtp-server.js";
import { testHandler } from "../kit/smtp-handler.js";
import { FakeClock } from "../kit/clock.js";
import { waitFor } from "../kit/load.js";

async function ready(port: number): Promise<SmtpClient> {
  const c = await SmtpClient.connect(port);
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  return c;
}

test("too many recipients: 452 4.5.3 past smtp.maxRecipients", async (t) => {
  const srv = await startTestServer({ smtp: { maxRecipients: 2 } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<1@y.test>\r\nRCPT TO:<2@y.test>\r\nRCPT TO:<3@y.test>\r\n");
  const r = await c.replies(4);
  assert.equal(r[3]!.raw, "452 4.5.3 Too many recipients\r\n");
  assert.ok(!srv.handler.calls.includes("rcpt 3@y.test"));
  c.close();
});

test("too many errors: 421 and close", async (t) => {
  const srv = await startTestServer({ smtp: { maxErrors: 3 } });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  c.send("FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n");
  const r = await c.replies(4);
  assert.deepEqual(
    r.map((x) => x.code),
    [500, 500, 500, 421],
  );
  assert.equal(r[3]!.raw, "421 4.7.0 Too many errors, closing connection\r\n");
  assert.equal(await c.reply(), null, "NOOP was not answered");
  await c.closed();
});

test("a command line over the limit: 500 5.5.6, the session goes on", async (t) => {
  const srv = await startTestServer({ smtp: { maxCommandLine: 512 } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  c.send(`MAIL FROM:<${"a".repeat(5000)}@b.test>\r\nNOOP\r\n`);
  const r = await c.replies(2);
  assert.equal(r[0]!.raw, "500 5.5.6 Line too long\r\n");
  assert.equal(r[1]!.code, 250);
  assert.ok(!srv.handler.calls.some((x) => x.startsWith("mail")));
  c.close();
});

test("idle timeout on the injected clock: 421 4.4.2 and close", async (t) => {
  const clock = new FakeClock();
  const srv = await startTestServer({ clock, smtp: { idleTimeoutSeconds: 60, sessionTimeoutSeconds: 3600 } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  clock.advance(59_000);
  assert.equal((await c.cmd("NOOP")).code, 250, "activity restarts the idle time");
  clock.advance(59_000);
  assert.equal(c.closedNow, false);
  clock.advance(1_000);
  assert.equal((await c.expect()).raw, "421 4.4.2 Idle timeout, closing connection\r\n");
  await c.closed();
});

test("the idle clock stops while the handler is busy", async (t) => {
  const clock = new FakeClock();
  let release: () => void = () => undefined;
  let entered: () => void = () => undefined;
  const inHandler = new Promise<void>((r) => (entered = r));
  const handler = testHandler({
    mailFrom: async () => {
      entered();
      await new Promise<void>((r) => (release = r));
      return { code: 250, enhanced: "2.1.0", text: "OK" };
    },
  });
  const srv = await startTestServer({
    clock,
    handler,
    smtp: { idleTimeoutSeconds: 60, sessionTimeoutSeconds: 3600 },
  });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  c.send("MAIL FROM:<a@b.test>\r\n");
  await inHandler;
  clock.advance(120_000);
  release();
  assert.equal((await c.expect()).code, 250);
  c.close();
});

test("session timeout on the injected clock", async (t) => {
  const clock = new FakeClock();
  const srv = await startTestServer({ clock, smtp: { idleTimeoutSeconds: 0, sessionTimeoutSeconds: 600 } });
  t.after(() => srv.close());
  const c = await ready(srv.port);
  clock.advance(600_000);
  assert.equal((await c.expect()).raw, "421 4.4.2 Session too long, closing connection\r\n");
  await c.closed();
});

test("per-IP and total connection limits: 421 4.7.0 at connect", async (t) => {
  const srv = await startTestServer({ smtp: { maxConnectionsPerIp: 2 } });
  t.after(() => srv.close());
  const a = await SmtpClient.connect(srv.port);
  await a.expect(220);
  const b = await SmtpClient.connect(srv.port);
  await b.expect(220);
  const c = await SmtpClient.connect(srv.port);
  assert.equal(
    (await c.expect()).raw,
    "421 4.7.0 Too many connections from your address, try again later\r\n",
  );
  await c.closed();
  await a.cmd("QUIT", 221);
  await waitFor("the slot to free", () => srv.server.sessions === 1, 5000);
  const d = await SmtpClient.connect(srv.port);
  await d.expect(220);
  b.close();
  d.close();

  const total = await startTestServer({ smtp: { maxConnections: 1 } });
  t.after(() => total.close());
  const e = await SmtpClient.connect(total.port);
  await e.expect(220);
  const f = await SmtpClient.connect(total.port);
  assert.equal((await f.expect()).raw, "421 4.7.0 Too many connections, try again later\r\n");
  e.close();
});

test("an HTTP request gets one 554 and the connection is closed at once", async (t) => {
  const srv = await startTestServer();
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  c.send("GET / HTTP/1.0\r\nHost: mx.test\r\nUser-Agent: probe\r\n\r\n");
  assert.equal((await c.expect()).raw, "554 5.7.0 Not an SMTP command, closing connection\r\n");
  assert.equal(await c.reply(), null);
  await c.closed();
});

test("early talker: data before the greeting gets 554 and close", async (t) => {
  let written: () => void = () => undefined;
  const clientWrote = new Promise<void>((r) => (written = r));
  const handler = testHandler({
    connect: async () => {
      await clientWrote;
      // Let the server's event loop take in the bytes already in the kernel.
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      return null;
    },
  });
  const srv = await startTestServer({ handler });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  c.send("EHLO eager.test\r\n");
  written();
  assert.equal((await c.expect()).raw, "554 5.5.0 Protocol error: client sent data before the greeting\r\n");
  await c.closed();
  assert.ok(!srv.handler.calls.some((x) => x.startsWith("mail")));
});

test("close(): idle sessions get 421 4.3.2, the port stops accepting", async (t) => {
  const srv = await startTestServer();
  let closed = false;
  t.after(() => (closed ? undefined : srv.close()));
  const a = await ready(srv.port);
  const b = await ready(srv.port);
  await b.cmd("MAIL FROM:<a@b.test>", 250);
  await b.cmd("RCPT TO:<x@y.test>", 250);
  await b.cmd("DATA", 354);
  b.send("half a message\r\n");
  await srv.close();
  closed = true;
  assert.equal((await a.expect()).raw, "421 4.3.2 Service not available, closing transmission channel\r\n");
  assert.equal((await b.expect()).code, 421);
  await a.closed();
  await b.closed();
  assert.equal(srv.handler.aborted, 1, "the message in transfer was dropped");
  assert.equal(srv.handler.messages.length, 0);
  await assert.rejects(SmtpClient.connect(srv.port));
});

test("metrics count opened and closed connections", async (t) => {
  const seen: string[] = [];
  const metrics = {
    messageReceived: () => undefined,
    recipientDelivered: () => undefined,
    recipientDeferred: () => undefined,
    recipientBounced: () => undefined,
    connectionOpened: (l: string) => seen.push(`open ${l}`),
    connectionClosed: (l: string) => seen.push(`close ${l}`),
  };
  const srv = await startTestServer({ metrics, listener: "submission" });
  t.after(() => srv.close());
  const c = await SmtpClient.connect(srv.port);
  await c.expect(220);
  c.send("QUIT\r\n");
  await c.expect(221);
  await c.closed();
  await srv.handler.waitClosed(1);
  assert.deepEqual(seen, ["open submission", "close submission"]);
});
