// The relay channel against the scriptable fake SMTP server on loopback: outcome mapping, MX
// selection and failover, DNS verdicts, pipelining, dot-stuffing, DSN and SMTPUTF8 parameters.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Outcome } from "../../src/proto/outcome.js";
import type { DnsAnswer, MxRecord } from "../../src/world/resolver.js";
import { startFakeSmtpServer, type FakeSmtpOptions, type FakeSmtpServer } from "../kit/fake-smtp-server.js";
import { fakeResolver } from "../kit/resolver.js";
import { job, relayChannel, relaySettings, type Harness } from "./fixtures.js";

const ok = <T>(...records: T[]): DnsAnswer<T> => ({ kind: "ok", records });
const mx = (exchange: string, priority: number): MxRecord => ({ exchange, priority });

/** One fake server, example.test → mx1.example.test → 127.0.0.1, a relay aimed at it. */
async function setup(
  t: { after(fn: () => Promise<void>): void },
  opts: FakeSmtpOptions = {},
  outbound = {},
): Promise<Harness & { server: FakeSmtpServer }> {
  const server = await startFakeSmtpServer(opts);
  const resolver = fakeResolver({
    mx: { "example.test": ok(mx("mx1.example.test", 10)) },
    addresses: { "mx1.example.test": ok("127.0.0.1") },
  });
  const h = relayChannel(relaySettings(server.port, outbound), resolver);
  t.after(async () => {
    await h.relay.close();
    await server.close();
  });
  return { ...h, server };
}

const kinds = (out: readonly Outcome[]): string[] =>
  out.map((o) => `${o.kind}:${o.reply.enhanced ?? o.reply.code}`);

test("a message is delivered and arrives intact", async (t) => {
  const { relay, server } = await setup(t);
  const out = await relay.deliver(job({ rcpts: ["rcpt@example.test"] }));
  assert.deepEqual(kinds(out), ["delivered:2.0.0"]);
  assert.equal(out[0]!.relay, `mx1.example.test[127.0.0.1]:${server.port}`);
  assert.equal(server.messages.length, 1);
  assert.equal(server.messages[0]!.mailFrom, "sender@origin.test");
  assert.deepEqual(server.messages[0]!.rcptTo, ["rcpt@example.test"]);
  assert.equal(server.messages[0]!.data.toString(), "Subject: test\r\n\r\nhello\r\n");
  assert.ok(server.sessions[0]!.transcript.includes("C: EHLO relay.test"));
});

test("one 550 RCPT among several: mixed outcomes, the others still delivered", async (t) => {
  const { relay, server } = await setup(t, {
    script: (line) => (line.startsWith("RCPT TO:<bad@") ? "550 5.1.1 No such user" : undefined),
  });
  const out = await relay.deliver(job({ rcpts: ["a@example.test", "bad@example.test", "c@example.test"] }));
  assert.deepEqual(kinds(out), ["delivered:2.0.0", "bounced:5.1.1", "delivered:2.0.0"]);
  assert.equal(out[1]!.kind === "bounced" && out[1]!.scope, "recipient");
  assert.deepEqual(server.messages[0]!.rcptTo, ["a@example.test", "c@example.test"]);
});

test("RCPT 4xx defers that recipient only", async (t) => {
  const { relay } = await setup(t, {
    script: (line) => (line.startsWith("RCPT TO:<later@") ? "452 4.2.2 Mailbox full" : undefined),
  });
  const out = await relay.deliver(job({ rcpts: ["later@example.test", "now@example.test"] }));
  assert.deepEqual(kinds(out), ["deferred:4.2.2", "delivered:2.0.0"]);
});

test("MAIL, DATA and end-of-data refusals apply to the whole message", async (t) => {
  const cases: [NonNullable<FakeSmtpOptions["script"]>, string][] = [
    [(l) => (l.startsWith("MAIL") ? "553 5.7.1 Sender rejected" : undefined), "bounced:5.7.1"],
    [(l) => (l.startsWith("MAIL") ? "451 4.3.0 Try later" : undefined), "deferred:4.3.0"],
    [(l) => (l === "DATA" ? "554 5.6.0 No data" : undefined), "bounced:5.6.0"],
    [(l) => (l === "." ? "552 5.3.4 Too big" : undefined), "bounced:5.3.4"],
    [(l) => (l === "." ? "451 4.3.0 Queue trouble" : undefined), "deferred:4.3.0"],
  ];
  for (const [script, want] of cases) {
    const { relay } = await setup(t, { script });
    const out = await relay.deliver(job({ rcpts: ["a@example.test", "b@example.test"] }));
    assert.deepEqual(kinds(out), [want, want], String(script));
    assert.ok(out.every((o) => o.kind === "delivered" || o.scope === "message"));
  }
});

test("connection lost after the message was sent: deferred, never bounced", async (t) => {
  const { relay } = await setup(t, { script: (l) => (l === "." ? "close" : undefined) });
  const out = await relay.deliver(job({ rcpts: ["a@example.test"] }));
  assert.deepEqual(kinds(out), ["deferred:4.4.2"]);
  assert.equal(out[0]!.kind === "deferred" && out[0]!.scope, "message");
});

test("MX failover: the first MX refuses connections, the second gets the message", async (t) => {
  const server = await startFakeSmtpServer();
  // Nothing listens on 127.0.0.2:<port> (the fake server is bound to 127.0.0.1 only).
  const resolver = fakeResolver({
    mx: { "example.test": ok(mx("mx2.example.test", 20), mx("mx1.example.test", 10)) },
    addresses: { "mx1.example.test": ok("127.0.0.2"), "mx2.example.test": ok("127.0.0.1") },
  });
  const { relay } = relayChannel(relaySettings(server.port), resolver);
  t.after(async () => {
    await relay.close();
    await server.close();
  });
  const out = await relay.deliver(job({ rcpts: ["a@example.test"] }));
  assert.deepEqual(kinds(out), ["delivered:2.0.0"]);
  assert.equal(out[0]!.relay, `mx2.example.test[127.0.0.1]:${server.port}`);
  // Preference order: mx1 (10) was tried before mx2 (20).
  assert.deepEqual(resolver.queries, ["MX example.test", "A mx1.example.test", "A mx2.example.test"]);
});

test("a 4xx greeting moves on to the next MX; a 5xx greeting at the last MX bounces", async (t) => {
  const busy = await startFakeSmtpServer({ greeting: "421 4.3.2 Busy" });
  const good = await startFakeSmtpServer();
  const hostile = await startFakeSmtpServer({ greeting: "554 5.7.1 Go away" });
  t.after(async () => Promise.all([busy, good, hostile].map((s) => s.close())).then(() => undefined));
  // Each fake runs on its own port; the dialer maps fake addresses to them.
  const ports: Record<string, number> = {
    "192.0.2.1": busy.port,
    "192.0.2.2": good.port,
    "192.0.2.3": hostile.port,
  };
  const { tcpDialer } = await import("../../src/world/dialer.js");
  const dialer = {
    connect: (o: { host: string; port: number; timeoutMs: number }) =>
      tcpDialer.connect({ ...o, host: "127.0.0.1", port: ports[o.host]! }),
  };
  const zone = (first: string, second: string) =>
    fakeResolver({
      mx: { "example.test": ok(mx("a.example.test", 1), mx("b.example.test", 2)) },
      addresses: { "a.example.test": ok(first), "b.example.test": ok(second) },
    });
  const h1 = relayChannel(relaySettings(25), zone("192.0.2.1", "192.0.2.2"), dialer);
  const h2 = relayChannel(relaySettings(25), zone("192.0.2.1", "192.0.2.3"), dialer);
  t.after(async () => Promise.all([h1.relay.close(), h2.relay.close()]).then(() => undefined));
  assert.deepEqual(kinds(await h1.relay.deliver(job({ rcpts: ["a@example.test"] }))), ["delivered:2.0.0"]);
  const out = await h2.relay.deliver(job({ rcpts: ["a@example.test"] }));
  assert.deepEqual(kinds(out), ["bounced:5.7.1"]);
  assert.equal(out[0]!.relay, "b.example.test[192.0.2.3]:25");
});

test("all MX hosts down: deferred 4.4.1 for the destination", async (t) => {
  const server = await startFakeSmtpServer();
  const resolver = fakeResolver({
    mx: { "example.test": ok(mx("mx1.example.test", 10), mx("mx2.example.test", 20)) },
    addresses: { "mx1.example.test": ok("127.0.0.2"), "mx2.example.test": ok("127.0.0.3") },
  });
  const { relay } = relayChannel(relaySettings(server.port), resolver);
  t.after(async () => {
    await relay.close();
    await server.close();
  });
  const out = await relay.deliver(job({ rcpts: ["a@example.test", "b@example.test"] }));
  assert.deepEqual(kinds(out), ["deferred:4.4.1", "deferred:4.4.1"]);
  assert.equal(out[0]!.kind === "deferred" && out[0]!.scope, "destination");
  assert.match(out[0]!.reply.text, /127\.0\.0\.3/);
  assert.equal(server.connections(), 0);
});

test("DNS verdicts: NXDOMAIN bounces 5.1.2, null MX bounces 5.1.10, SERVFAIL defers 4.4.3", async (t) => {
  const resolver = fakeResolver({
    mx: {
      "nullmx.test": ok(mx(".", 0)),
      "broken.test": { kind: "temporary", error: "SERVFAIL" },
    },
  });
  const { relay } = relayChannel(relaySettings(25), resolver);
  t.after(() => relay.close());
  const nx = await relay.deliver(job({ rcpts: ["a@nowhere.test"] }));
  assert.deepEqual(kinds(nx), ["bounced:5.1.2"]);
  assert.equal(nx[0]!.kind === "bounced" && nx[0]!.scope, "destination");
  assert.deepEqual(kinds(await relay.deliver(job({ rcpts: ["a@nullmx.test"] }))), ["bounced:5.1.10"]);
  assert.deepEqual(kinds(await relay.deliver(job({ rcpts: ["a@broken.test"] }))), ["deferred:4.4.3"]);
});

test("NODATA for MX: the domain itself is the implicit MX (RFC 5321 §5.1)", async (t) => {
  const server = await startFakeSmtpServer();
  const resolver = fakeResolver({
    mx: { "example.test": { kind: "nodata" }, "bare.test": { kind: "nodata" } },
    addresses: { "example.test": ok("127.0.0.1"), "bare.test": { kind: "nodata" } },
  });
  const { relay } = relayChannel(relaySettings(server.port), resolver);
  t.after(async () => {
    await relay.close();
    await server.close();
  });
  const out = await relay.deliver(job({ rcpts: ["a@example.test"] }));
  assert.deepEqual(kinds(out), ["delivered:2.0.0"]);
  assert.equal(out[0]!.relay, `example.test[127.0.0.1]:${server.port}`);
  // Neither MX nor address records: nothing will ever take this domain's mail.
  assert.deepEqual(kinds(await relay.deliver(job({ rcpts: ["a@bare.test"] }))), ["bounced:5.4.4"]);
});

test("forward:* sends everything to smtp.forwardTo in order, failing over", async (t) => {
  const server = await startFakeSmtpServer();
  const resolver = fakeResolver({});
  const settings = relaySettings(25, {}, [`127.0.0.2:${server.port}`, `127.0.0.1:${server.port}`]);
  const { relay } = relayChannel(settings, resolver);
  t.after(async () => {
    await relay.close();
    await server.close();
  });
  const out = await relay.deliver(job({ rcpts: ["a@far.test"], route: "forward:*" }));
  assert.deepEqual(kinds(out), ["delivered:2.0.0"]);
  assert.equal(out[0]!.relay, `127.0.0.1[127.0.0.1]:${server.port}`);
  assert.deepEqual(resolver.queries, []);
});

test("with PIPELINING, MAIL, every RCPT and DATA arrive in one write", async (t) => {
  const { relay, server } = await setup(t);
  await relay.deliver(job({ rcpts: ["a@example.test", "b@example.test"] }));
  const read = server.sessions[0]!.reads.find((r) => r.includes("MAIL FROM"));
  assert.equal(
    read,
    "MAIL FROM:<sender@origin.test> SIZE=24\r\nRCPT TO:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n",
  );
});

test("without PIPELINING, each command waits for its reply", async (t) => {
  const { relay, server } = await setup(t, { extensions: ["8BITMIME"] });
  const out = await relay.deliver(job({ rcpts: ["a@example.test", "b@example.test"] }));
  assert.deepEqual(kinds(out), ["delivered:2.0.0", "delivered:2.0.0"]);
  const reads = server.sessions[0]!.reads;
  assert.ok(reads.includes("MAIL FROM:<sender@origin.test>\r\n"), JSON.stringify(reads));
  assert.ok(reads.includes("RCPT TO:<a@example.test>\r\n"));
  assert.ok(reads.includes("RCPT TO:<b@example.test>\r\n"));
  assert.ok(reads.includes("DATA\r\n"));
});

test("without PIPELINING and every RCPT refused, DATA is not sent and the session is reset", async (t) => {
  const { relay, server } = await setup(t, {
    extensions: [],
    script: (l) => (l.startsWith("RCPT") ? "550 5.1.1 Unknown" : undefined),
  });
  const out = await relay.deliver(job({ rcpts: ["a@example.test"] }));
  assert.deepEqual(kinds(out), ["bounced:5.1.1"]);
  await server.waitFor(() => server.sessions[0]!.transcript.includes("C: RSET"));
  assert.ok(!server.sessions[0]!.transcript.includes("C: DATA"));
});

test("EHLO refused with 5xx: HELO, and no ESMTP parameters", async (t) => {
  const { relay, server } = await setup(t, {
    script: (l) => (l.startsWith("EHLO") ? "502 5.5.1 EHLO not supported" : undefined),
  });
  const out = await relay.deliver(job({ rcpts: ["a@example.test"], envelope: { body: "8BITMIME" } }));
  assert.deepEqual(kinds(out), ["delivered:2.0.0"]);
  const t1 = server.sessions[0]!.transcript;
  assert.ok(t1.includes("C: HELO relay.test"));
  assert.ok(t1.includes("C: MAIL FROM:<sender@origin.test>"), t1.join("\n"));
});

test("dot-stuffing round trip: lines starting with '.' arrive intact, however the body is chunked", async (t) => {
  const { relay, server } = await setup(t);
  const text = ".first\r\n..second\r\nmid\r\n.\r\n.\r\nx.\r\n.last";
  const whole = Buffer.from(text);
  // Chunk boundaries inside "\r\n." on purpose.
  const chunks = [whole.subarray(0, 9), whole.subarray(9, 10), whole.subarray(10, 30), whole.subarray(30)];
  const out = await relay.deliver(job({ rcpts: ["a@example.test"], body: chunks }));
  assert.deepEqual(kinds(out), ["delivered:2.0.0"]);
  // The message lacked a final CRLF; the client adds one before the terminator.
  assert.equal(server.messages[0]!.data.toString(), text + "\r\n");
  assert.ok(server.messages[0]!.wire.toString().startsWith("..first\r\n...second\r\n"));
});

test("DSN parameters pass through when the server offers DSN, and are omitted otherwise", async (t) => {
  const spec = {
    rcpts: ["a@example.test"],
    notify: ["SUCCESS", "DELAY"] as const,
    orcpt: "rfc822;orig+x@example.test",
    envelope: { ret: "HDRS" as const, envid: "env=1" },
  };
  const withDsn = await setup(t, { extensions: ["PIPELINING", "DSN"] });
  await withDsn.relay.deliver(job(spec));
  const tr1 = withDsn.server.sessions[0]!.transcript;
  assert.ok(tr1.includes("C: MAIL FROM:<sender@origin.test> RET=HDRS ENVID=env+3D1"), tr1.join("\n"));
  assert.ok(
    tr1.includes("C: RCPT TO:<a@example.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;orig+2Bx@example.test"),
  );
  const without = await setup(t, { extensions: ["PIPELINING"] });
  await without.relay.deliver(job(spec));
  const tr2 = without.server.sessions[0]!.transcript;
  assert.ok(tr2.includes("C: MAIL FROM:<sender@origin.test>"), tr2.join("\n"));
  assert.ok(tr2.includes("C: RCPT TO:<a@example.test>"));
});

test("SMTPUTF8 required but not offered: bounced 5.6.7 without sending", async (t) => {
  const { relay, server } = await setup(t);
  // The header section carries UTF-8: only SMTPUTF8 can take it (RFC 6531 §3.4).
  const out = await relay.deliver(
    job({ rcpts: ["a@example.test"], envelope: { smtputf8: true }, body: "Subject: Grüße\r\n\r\nhello\r\n" }),
  );
  assert.deepEqual(kinds(out), ["bounced:5.6.7"]);
  assert.ok(!server.sessions[0]!.transcript.some((l) => l.startsWith("C: MAIL")));
  // So does a UTF-8 local part, whatever the headers.
  const local = await relay.deliver(job({ rcpts: ["jöran@example.test"], envelope: { smtputf8: true } }));
  assert.deepEqual(kinds(local), ["bounced:5.6.7"]);
  const utf8 = await setup(t, { extensions: ["SMTPUTF8", "8BITMIME"] });
  const ok8 = await utf8.relay.deliver(
    job({ rcpts: ["a@example.test"], envelope: { smtputf8: true, body: "8BITMIME" } }),
  );
  assert.deepEqual(kinds(ok8), ["delivered:2.0.0"]);
  assert.ok(
    utf8.server.sessions[0]!.transcript.includes("C: MAIL FROM:<sender@origin.test> BODY=8BITMIME SMTPUTF8"),
  );
});

test("to a server without SMTPUTF8 an IDN goes as A-labels (EHLO, MAIL FROM, RCPT TO) and the message is delivered", async (t) => {
  const server = await startFakeSmtpServer();
  const resolver = fakeResolver({
    mx: { "xn--mller-kva.test": ok(mx("mx.xn--mller-kva.test", 10)) },
    addresses: { "mx.xn--mller-kva.test": ok("127.0.0.1") },
  });
  const h = relayChannel(relaySettings(server.port, { helo: "mx.bücher.test" }), resolver);
  t.after(async () => {
    await h.relay.close();
    await server.close();
  });
  // The sender asked for SMTPUTF8 (its domains were U-labels); nothing else in it needs it. The
  // recipient is a U-label as a queue file from another source may hold it.
  const out = await h.relay.deliver(
    job({
      rcpts: ["x@müller.test"],
      envelope: { smtputf8: true, returnPath: "sender@bücher.test" },
      route: "relay:xn--mller-kva.test",
    }),
  );
  assert.deepEqual(kinds(out), ["delivered:2.0.0"]);
  const tr = server.sessions[0]!.transcript;
  assert.ok(tr.includes("C: EHLO mx.xn--bcher-kva.test"), tr.join("\n"));
  assert.match(tr.find((l) => l.startsWith("C: MAIL")) ?? "", /^C: MAIL FROM:<sender@xn--bcher-kva\.test>/);
  assert.ok(!tr.some((l) => l.includes("SMTPUTF8")), "no SMTPUTF8 to a server that lacks it");
  assert.deepEqual(server.messages[0]!.rcptTo, ["x@xn--mller-kva.test"]);
  assert.equal(server.messages[0]!.data.toString(), "Subject: test\r\n\r\nhello\r\n");
});

test("a message over the server's SIZE limit bounces 5.3.4 before MAIL", async (t) => {
  const { relay, server } = await setup(t, { extensions: ["SIZE 10"] });
  const out = await relay.deliver(job({ rcpts: ["a@example.test"] }));
  assert.deepEqual(kinds(out), ["bounced:5.3.4"]);
  assert.ok(!server.sessions[0]!.transcript.some((l) => l.startsWith("C: MAIL")));
});

test("golden transcript of a pipelined two-recipient delivery", async (t) => {
  const { relay, server } = await setup(t, { extensions: ["PIPELINING", "SIZE 1000", "8BITMIME", "DSN"] });
  await relay.deliver(
    job({
      rcpts: ["a@example.test", "b@example.test"],
      notify: ["FAILURE"],
      envelope: { body: "8BITMIME", ret: "FULL" },
    }),
  );
  await relay.close();
  await server.waitFor(() => server.sessions[0]!.transcript.includes("S: 221 2.0.0 Bye"));
  assert.deepEqual(server.sessions[0]!.transcript, [
    "S: 220 fake.test ESMTP",
    "C: EHLO relay.test",
    "S: 250-fake.test greets you",
    "S: 250-PIPELINING",
    "S: 250-SIZE 1000",
    "S: 250-8BITMIME",
    "S: 250 DSN",
    "C: MAIL FROM:<sender@origin.test> SIZE=24 BODY=8BITMIME RET=FULL",
    "S: 250 2.1.0 OK",
    "C: RCPT TO:<a@example.test> NOTIFY=FAILURE",
    "S: 250 2.1.5 OK",
    "C: RCPT TO:<b@example.test> NOTIFY=FAILURE",
    "S: 250 2.1.5 OK",
    "C: DATA",
    "S: 354 End data with <CR><LF>.<CR><LF>",
    "C: <message>",
    "C: .",
    "S: 250 2.0.0 queued as 1",
    "C: QUIT",
    "S: 221 2.0.0 Bye",
  ]);
});
