// The delivery channel end to end: our client and our server over real loopback sockets.
// Per-recipient results in one transaction, pipelining, session reuse and the idle pool, the
// cluster secret (no secret and a wrong secret get nothing delivered), a backend that is down or
// unknown or silent (deferred, scope destination, never bounced), transparency of "." lines,
// DSN parameters and SIZE, and the server's idle timeout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { REPLIES, reply } from "../../src/proto/reply.js";
import { freePort } from "../kit/ports.js";
import { SmtpClient } from "../kit/smtp-client.js";
import {
  backendAt,
  fakeBackend,
  job,
  notOwner,
  recordingProxy,
  startClient,
  startServer,
  summary,
} from "./fixtures.js";

test("one transaction, per-recipient results: delivered, 5xx, 4xx after the data; RCPT refusals", async (t) => {
  const backend = fakeBackend(
    { nobody: REPLIES.unknownUser, elsewhere: notOwner },
    { full: REPLIES.overQuotaTemp, off: REPLIES.mailboxDisabled },
  );
  const { port } = await startServer(t, backend);
  const { client } = startClient(t, backendAt(port));
  const rcpts = ["alice", "off", "full", "nobody", "elsewhere", "bob"].map((u) => `${u}@example.test`);
  const out = await client.deliver(job({ rcpts }));
  assert.deepEqual(out.map(summary), [
    "delivered 250 2.0.0",
    "bounced 550 5.2.1 recipient",
    "deferred 452 4.2.2 recipient",
    "bounced 550 5.1.1 recipient",
    "deferred 450 4.2.0 recipient",
    "delivered 250 2.0.0",
  ]);
  assert.match(out[0]!.reply.text, /^<alice@example\.test> Delivered$/);
  assert.equal(out[0]!.relay, `backend1[127.0.0.1]:${port}`);
  // One message, for the four recipients the backend admitted, in RCPT order.
  assert.equal(backend.jobs.length, 1);
  assert.deepEqual(
    backend.jobs[0]!.recipients.map((r) => r.rcpt.address),
    ["alice@example.test", "off@example.test", "full@example.test", "bob@example.test"],
  );
  assert.equal(backend.jobs[0]!.envelope.returnPath, "sender@origin.test");
  assert.equal(backend.messages[0]!.toString(), "Subject: test\r\n\r\nhello\r\n");
});

test("MAIL, every RCPT and DATA leave in one segment (pipelining)", async (t) => {
  const { port, backend } = await startServer(t);
  const proxy = await recordingProxy(port);
  t.after(() => proxy.close());
  const { client } = startClient(t, backendAt(proxy.port));
  const out = await client.deliver(job({ rcpts: ["a@example.test", "b@example.test", "c@example.test"] }));
  assert.deepEqual(
    out.map((o) => o.kind),
    ["delivered", "delivered", "delivered"],
  );
  const segments = proxy.sent[0]!;
  const mail = segments.find((s) => s.startsWith("MAIL FROM:"));
  assert.equal(
    mail,
    "MAIL FROM:<sender@origin.test> SIZE=24 BODY=8BITMIME\r\n" +
      "RCPT TO:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nRCPT TO:<c@example.test>\r\nDATA\r\n",
  );
  // The secret itself never crosses the wire.
  assert.ok(!segments.join("").includes("correct horse"));
  assert.ok(segments.some((s) => /^AUTH X-MAILYARD-HMAC frontend1 [0-9a-f]{64}\r\n$/.test(s)));
  assert.equal(backend.jobs.length, 1);
});

test("one pooled session carries several jobs; the pool closes it after idleKeepMs", async (t) => {
  const {
    port,
    backend,
    logs: serverLogs,
  } = await startServer(t, fakeBackend({}, { x: REPLIES.overQuotaTemp }));
  const { client, clock } = startClient(t, backendAt(port), { idleKeepMs: 5_000 });
  for (const to of ["a@example.test", "x@example.test", "b@example.test"])
    await client.deliver(job({ rcpts: [to] }));
  // A transaction with a 4xx recipient ends cleanly too: the next one needs no RSET.
  const concurrent = await Promise.all([
    client.deliver(job({ rcpts: ["c@example.test"] })),
    client.deliver(job({ rcpts: ["d@example.test"] })),
  ]);
  assert.deepEqual(
    concurrent.flat().map((o) => o.kind),
    ["delivered", "delivered"],
  );
  assert.equal(backend.jobs.length, 5);
  // Sequential jobs share one session; the two at once needed a second one.
  assert.equal(serverLogs.records.filter((r) => r.text === "connect").length, 2);
  assert.equal(serverLogs.records.filter((r) => r.text === "authenticated").length, 2);
  assert.ok(!serverLogs.has("disconnect"));
  clock.advance(4_999);
  assert.ok(!serverLogs.has("disconnect"));
  clock.advance(1);
  await serverLogs.waitFor("disconnect", 2);
});

test("a pooled session the server closed meanwhile is replaced by a fresh one", async (t) => {
  const {
    port,
    backend,
    clock: serverClock,
    logs: serverLogs,
  } = await startServer(t, fakeBackend(), {
    timeouts: { idleMs: 1_000 },
  });
  const { client } = startClient(t, backendAt(port), { idleKeepMs: 60_000 });
  await client.deliver(job({ rcpts: ["a@example.test"] }));
  serverClock.advance(1_000);
  await serverLogs.waitFor("disconnect");
  const out = await client.deliver(job({ rcpts: ["b@example.test"] }));
  assert.deepEqual(out.map(summary), ["delivered 250 2.0.0"]);
  assert.equal(backend.jobs.length, 2);
  assert.equal(serverLogs.records.filter((r) => r.text === "connect").length, 2);
});

test("a pooled session that answers 421 when reused: the job goes over a fresh session", async (t) => {
  const { port, backend } = await startServer(t);
  const proxy = await recordingProxy(port);
  t.after(() => proxy.close());
  const { client, logs } = startClient(t, backendAt(proxy.port));
  await client.deliver(job({ rcpts: ["a@example.test"] }));
  proxy.poisonOpen();
  const out = await client.deliver(job({ rcpts: ["b@example.test"] }));
  assert.deepEqual(out.map(summary), ["delivered 250 2.0.0"]);
  assert.equal(proxy.sent.length, 2);
  assert.ok(logs.has("pooled session was closed, reconnecting"));
  assert.deepEqual(
    backend.jobs.map((j) => j.recipients[0]!.rcpt.address),
    ["a@example.test", "b@example.test"],
  );
});

test("a client without the secret gets 530 and nothing is admitted or delivered (deferred, destination)", async (t) => {
  const { port, backend } = await startServer(t);
  const { client } = startClient(t, backendAt(port), { secret: null });
  const out = await client.deliver(job({ rcpts: ["alice@example.test", "bob@example.test"] }));
  assert.deepEqual(out.map(summary), ["deferred 530 5.7.0 destination", "deferred 530 5.7.0 destination"]);
  assert.deepEqual(backend.admitted, []);
  assert.deepEqual(backend.jobs, []);
});

test("a client with the wrong secret is refused at AUTH: deferred, destination, nothing delivered", async (t) => {
  const { port, backend, logs: serverLogs } = await startServer(t);
  const { client } = startClient(t, backendAt(port), { secret: "not the cluster secret at all" });
  const out = await client.deliver(job({ rcpts: ["alice@example.test"] }));
  assert.deepEqual(out.map(summary), ["deferred 451 4.7.0 destination"]);
  assert.match(out[0]!.reply.text, /refused the AUTH: 535 5\.7\.8/);
  assert.deepEqual(backend.admitted, []);
  assert.deepEqual(backend.jobs, []);
  const failed = serverLogs.records.find((r) => r.text === "authentication failed");
  assert.equal(failed?.fields.node, "frontend1");
  // Nothing secret in the server's log.
  assert.ok(!JSON.stringify(serverLogs.records).match(/[0-9a-f]{64}/));
});

test("a client with the secret does not deliver to a server that does not offer cluster AUTH", async (t) => {
  const { port, backend } = await startServer(t, fakeBackend(), { secret: null });
  const { client } = startClient(t, backendAt(port));
  const out = await client.deliver(job({ rcpts: ["alice@example.test"] }));
  assert.deepEqual(out.map(summary), ["deferred 451 4.7.0 destination"]);
  assert.deepEqual(backend.jobs, []);
});

test("backend down, no backend, unexpected greeting: deferred with scope destination, never bounced", async (t) => {
  const closedPort = await freePort();
  const down = startClient(t, backendAt(closedPort));
  const out = await down.client.deliver(job({ rcpts: ["a@example.test", "b@example.test"] }));
  assert.deepEqual(out.map(summary), ["deferred 451 4.4.1 destination", "deferred 451 4.4.1 destination"]);
  assert.match(out[0]!.reply.text, /ECONNREFUSED/);

  const none = startClient(t, { none: "no live backend for example.test" });
  const out2 = await none.client.deliver(job({ rcpts: ["a@example.test"] }));
  assert.deepEqual(out2.map(summary), ["deferred 451 4.4.0 destination"]);
  assert.equal(out2[0]!.reply.text, "no live backend for example.test");
  assert.equal(out2[0]!.relay, "none");

  const { port: busy } = await startServer(t, fakeBackend(), { limits: { maxConnections: 0 } });
  const refusing = startClient(t, backendAt(busy));
  const out3 = await refusing.client.deliver(job({ rcpts: ["a@example.test"] }));
  assert.deepEqual(out3.map(summary), ["deferred 451 4.4.1 destination"]);
  assert.match(out3[0]!.reply.text, /421 4\.7\.0/);
});

test("no reply after the data within the timeout: deferred, destination; the session is not reused", async (t) => {
  const backend = fakeBackend();
  let open: () => void = () => undefined;
  backend.gate = new Promise<void>((resolve) => (open = resolve));
  const { port, logs: serverLogs } = await startServer(t, backend);
  const { client, clock } = startClient(t, backendAt(port), { timeoutMs: 30_000 });
  const pending = client.deliver(job({ rcpts: ["a@example.test"] }));
  await backend.waitFor(() => backend.jobs.length === 1, "the job at the backend");
  // The client is waiting for the recipient's reply, with its timer armed.
  while (clock.pending() === 0) await new Promise((r) => setImmediate(r));
  clock.advance(30_000);
  const out = await pending;
  assert.deepEqual(out.map(summary), ["deferred 451 4.4.2 destination"]);
  assert.match(out[0]!.reply.text, /timed out waiting for reply to end of data/);
  open();
  await serverLogs.waitFor("disconnect");
});

test('lines "." and ".." and a leading dot arrive intact; DSN parameters and SIZE are passed on', async (t) => {
  const { port, backend } = await startServer(t, fakeBackend(), { maxMessageSize: 200 });
  const { client } = startClient(t, backendAt(port));
  const body = "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmid.dle\r\n.\r\nend\r\n";
  const out = await client.deliver(
    job({
      rcpts: ["a@example.test"],
      body,
      notify: ["SUCCESS", "FAILURE"],
      orcpt: "rfc822;Original+Name@example.test",
      envelope: { ret: "HDRS", envid: "env id=1", smtputf8: true, returnPath: "sénder@origin.test" },
    }),
  );
  assert.deepEqual(out.map(summary), ["delivered 250 2.0.0"]);
  assert.equal(backend.messages[0]!.toString(), body);
  const env = backend.jobs[0]!.envelope;
  assert.deepEqual(
    { ret: env.ret, envid: env.envid, smtputf8: env.smtputf8, body: env.body, from: env.returnPath },
    { ret: "HDRS", envid: "env id=1", smtputf8: true, body: "8BITMIME", from: "sénder@origin.test" },
  );
  assert.deepEqual(env.recipients[0], {
    address: "a@example.test",
    original: null,
    notify: ["SUCCESS", "FAILURE"],
    orcpt: "rfc822;Original+Name@example.test",
  });
  assert.equal(env.size, Buffer.byteLength(body));

  // SIZE= over the server's limit is refused at MAIL: a permanent answer for the message.
  const big = await client.deliver(
    job({ rcpts: ["a@example.test", "b@example.test"], body: "x".repeat(300) }),
  );
  assert.deepEqual(big.map(summary), ["bounced 552 5.3.4 message", "bounced 552 5.3.4 message"]);
  assert.equal(backend.jobs.length, 1);
  // The refused MAIL left the session clean: it is reused.
  const after = await client.deliver(job({ rcpts: ["b@example.test"] }));
  assert.deepEqual(after.map(summary), ["delivered 250 2.0.0"]);
});

test("all recipients refused at RCPT: DATA gets 503, RSET, and the session is reused", async (t) => {
  const { port, backend } = await startServer(t, fakeBackend({ nobody: REPLIES.unknownUser }));
  const proxy = await recordingProxy(port);
  t.after(() => proxy.close());
  const { client } = startClient(t, backendAt(proxy.port));
  const out = await client.deliver(job({ rcpts: ["nobody@example.test"] }));
  assert.deepEqual(out.map(summary), ["bounced 550 5.1.1 recipient"]);
  const ok = await client.deliver(job({ rcpts: ["alice@example.test"] }));
  assert.deepEqual(ok.map(summary), ["delivered 250 2.0.0"]);
  assert.equal(proxy.sent.length, 1);
  const commands = proxy.sent[0]!.join("")
    .split("\r\n")
    .map((l) => l.split(" ")[0]);
  assert.deepEqual(commands.slice(2, 9), ["MAIL", "RCPT", "DATA", "RSET", "MAIL", "RCPT", "DATA"]);
  assert.equal(backend.jobs.length, 1);
});

test("the server closes a session idle for idleMs with 421 4.4.2, not one that is delivering", async (t) => {
  const backend = fakeBackend();
  const { port, clock } = await startServer(t, backend, { secret: null, timeouts: { idleMs: 10_000 } });
  const c = await SmtpClient.connect(port);
  t.after(() => c.close());
  await c.expect(220);
  await c.cmd("LHLO frontend1.test", 250);
  clock.advance(9_999);
  await c.cmd("NOOP", 250);
  // A delivery in progress is not idle time.
  let open: () => void = () => undefined;
  backend.gate = new Promise<void>((resolve) => (open = resolve));
  c.send("MAIL FROM:<a@origin.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
  await c.replies(3);
  c.send("Subject: x\r\n\r\nbody\r\n.\r\n");
  await backend.waitFor(() => backend.jobs.length === 1, "the job");
  clock.advance(20_000);
  open();
  const r = await c.expect(250);
  assert.match(r.lines[0]!, /^2\.0\.0 <b@example\.test> Delivered/);
  clock.advance(9_999);
  await c.cmd("NOOP", 250);
  clock.advance(10_000);
  const bye = await c.expect(421);
  assert.match(bye.lines[0]!, /^4\.4\.2 Idle timeout/);
  await c.closed();
});

test("a wrong reply class from delivery is never passed on as success", async (t) => {
  const { port } = await startServer(t, fakeBackend(), {
    deliver: (j) =>
      Promise.resolve(
        j.recipients.map(() => ({
          kind: "bounced" as const,
          reply: reply(250, "2.0.0", "odd"),
          relay: "mailbox",
          scope: "recipient" as const,
        })),
      ),
  });
  const { client } = startClient(t, backendAt(port));
  const out = await client.deliver(job({ rcpts: ["weird@example.test"] }));
  assert.deepEqual(out.map(summary), ["bounced 550 5.0.0 recipient"]);
});

test("stored stray CR, LF and NUL cross the channel as CRLF text; BINARYMIME is returned, not sent", async (t) => {
  const { port, backend } = await startServer(t);
  const proxy = await recordingProxy(port);
  t.after(() => proxy.close());
  const { client } = startClient(t, backendAt(proxy.port));
  // As BDAT could once store them (issue 15): every sloppy terminator, and NUL.
  const body = "Subject: x\r\n\r\na\n.\nb\n.\r\nc\r.\rd\r.\ne\x00f\r\n.\r\nend\r";
  const out = await client.deliver(job({ rcpts: ["a@example.test"], body }));
  assert.deepEqual(out.map(summary), ["delivered 250 2.0.0"]);
  assert.equal(
    backend.messages[0]!.toString("latin1"),
    "Subject: x\r\n\r\na\r\n.\r\nb\r\n.\r\nc\r\n.\r\nd\r\n.\r\nef\r\n.\r\nend\r\n",
  );
  const sent = proxy.sent[0]!.join("");
  assert.ok(sent.includes("a\r\n..\r\nb\r\n..\r\nc\r\n..\r\nd\r\n..\r\nef\r\n..\r\nend\r\n.\r\n"), sent);

  const binary = await client.deliver(
    job({ rcpts: ["a@example.test"], body: "\x00\n.\n", envelope: { body: "BINARYMIME" } }),
  );
  assert.deepEqual(binary.map(summary), ["bounced 554 5.6.3 message"]);
  assert.equal(backend.jobs.length, 1, "the BINARYMIME message never reached the backend");
});
