// Connection reuse: idle connections are kept per destination on the injected clock, reused for
// the next message, reset after an unfinished transaction, retired after maxMessagesPerConnection,
// and replaced by a fresh connection when the cached one turns out to be dead.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { DnsAnswer } from "../../src/world/resolver.js";
import { startFakeSmtpServer, type FakeSmtpOptions, type FakeSmtpServer } from "../kit/fake-smtp-server.js";
import { fakeResolver } from "../kit/resolver.js";
import { job, relayChannel, relaySettings, type Harness } from "./fixtures.js";

const ok = <T>(...records: T[]): DnsAnswer<T> => ({ kind: "ok", records });

async function setup(
  t: { after(fn: () => Promise<void>): void },
  opts: FakeSmtpOptions = {},
  outbound = {},
): Promise<Harness & { server: FakeSmtpServer }> {
  const server = await startFakeSmtpServer(opts);
  const resolver = fakeResolver({
    mx: { "example.test": ok({ exchange: "mx1.example.test", priority: 10 }) },
    addresses: { "mx1.example.test": ok("127.0.0.1") },
  });
  const h = relayChannel(relaySettings(server.port, outbound), resolver);
  t.after(async () => {
    await h.relay.close();
    await server.close();
  });
  return { ...h, server };
}

test("two messages to one destination share one TCP connection; QUIT after the idle time", async (t) => {
  const { relay, server, clock } = await setup(t, {}, { idleKeepSeconds: 5 });
  const a = await relay.deliver(job({ rcpts: ["a@example.test"] }));
  const b = await relay.deliver(job({ rcpts: ["b@example.test"] }));
  assert.deepEqual([a[0]!.kind, b[0]!.kind], ["delivered", "delivered"]);
  assert.equal(server.connections(), 1);
  assert.equal(server.messages.length, 2);
  // The first transaction ended cleanly: no RSET needed before the second MAIL.
  assert.ok(!server.sessions[0]!.transcript.includes("C: RSET"));
  await clock.armed(1);
  clock.advance(4_999);
  assert.ok(!server.sessions[0]!.transcript.includes("C: QUIT"));
  clock.advance(1);
  await server.waitFor(() => server.sessions[0]!.transcript.includes("C: QUIT"));
});

test("maxMessagesPerConnection = 1: each message gets its own connection", async (t) => {
  const { relay, server } = await setup(t, {}, { maxMessagesPerConnection: 1 });
  await relay.deliver(job({ rcpts: ["a@example.test"] }));
  await relay.deliver(job({ rcpts: ["b@example.test"] }));
  assert.equal(server.connections(), 2);
  await server.waitFor(() => server.sessions[0]!.transcript.includes("C: QUIT"));
});

test("after a transaction that did not finish, RSET before reuse", async (t) => {
  const { relay, server } = await setup(t, {
    script: (l) => (l.startsWith("RCPT TO:<bad@") ? "550 5.1.1 Unknown" : undefined),
  });
  const a = await relay.deliver(job({ rcpts: ["bad@example.test"] }));
  assert.equal(a[0]!.kind, "bounced");
  const b = await relay.deliver(job({ rcpts: ["good@example.test"] }));
  assert.equal(b[0]!.kind, "delivered");
  assert.equal(server.connections(), 1);
  const tr = server.sessions[0]!.transcript.filter((l) => l.startsWith("C: "));
  const rset = tr.indexOf("C: RSET");
  assert.ok(rset > 0 && rset < tr.lastIndexOf("C: MAIL FROM:<sender@origin.test> SIZE=24"), tr.join("\n"));
});

test("a cached connection the server dropped (421 to MAIL) is replaced by a fresh one", async (t) => {
  const used = new Set<number>();
  const { relay, server } = await setup(t, {
    script: (l, s) => {
      if (l === ".") used.add(s.id);
      if (l.startsWith("MAIL") && used.has(s.id)) return "421 4.4.2 Idle too long, closing";
      return undefined;
    },
  });
  await relay.deliver(job({ rcpts: ["a@example.test"] }));
  const out = await relay.deliver(job({ rcpts: ["b@example.test"] }));
  assert.equal(out[0]!.kind, "delivered");
  assert.equal(server.connections(), 2);
  assert.deepEqual(
    server.messages.map((m) => m.session),
    [1, 2],
  );
});

test("close() says QUIT to idle connections", async (t) => {
  const { relay, server } = await setup(t);
  await relay.deliver(job({ rcpts: ["a@example.test"] }));
  await relay.close();
  assert.ok(server.sessions[0]!.transcript.includes("C: QUIT"));
});
