// Opportunistic STARTTLS (RFC 3207) against the fake server with a self-signed certificate made
// for the test: used when offered, skipped when disabled in settings, and a failed handshake
// defers instead of sending in the clear.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generate } from "selfsigned";
import type { DnsAnswer } from "../../src/world/resolver.js";
import { startFakeSmtpServer, type FakeSmtpOptions } from "../kit/fake-smtp-server.js";
import { fakeResolver } from "../kit/resolver.js";
import { job, relayChannel, relaySettings } from "./fixtures.js";

const ok = <T>(...records: T[]): DnsAnswer<T> => ({ kind: "ok", records });
const resolver = () =>
  fakeResolver({
    mx: { "example.test": ok({ exchange: "mx1.example.test", priority: 10 }) },
    addresses: { "mx1.example.test": ok("127.0.0.1") },
  });

const material = (async () => {
  const pems = await generate([{ name: "commonName", value: "mx1.example.test" }], { keyType: "ec" });
  return { key: pems.private, cert: pems.cert };
})();

async function run(t: { after(fn: () => Promise<void>): void }, opts: FakeSmtpOptions, starttls = true) {
  const server = await startFakeSmtpServer(opts);
  const { relay } = relayChannel(relaySettings(server.port, { starttls }), resolver());
  t.after(async () => {
    await relay.close();
    await server.close();
  });
  const out = await relay.deliver(
    job({ rcpts: ["a@example.test"], body: "Subject: tls\r\n\r\n.secret\r\n" }),
  );
  return { out, server };
}

test("STARTTLS is used when offered; EHLO is repeated over TLS and the message arrives", async (t) => {
  const { out, server } = await run(t, { tls: await material });
  assert.equal(out[0]!.kind, "delivered");
  const s = server.sessions[0]!;
  assert.equal(s.tls, true);
  const commands = s.transcript.filter((l) => l.startsWith("C: ")).map((l) => l.split(" ")[1]);
  assert.deepEqual(commands.slice(0, 4), ["EHLO", "STARTTLS", "EHLO", "MAIL"]);
  assert.equal(server.messages[0]!.data.toString(), "Subject: tls\r\n\r\n.secret\r\n");
  // Nothing of the transaction travelled in plaintext reads before the upgrade.
  const plaintext = s.reads.slice(0, s.reads.findIndex((r) => r.startsWith("STARTTLS")) + 1).join("");
  assert.ok(!plaintext.includes("MAIL FROM"));
});

test("with smtp.outbound.starttls = false the offer is ignored", async (t) => {
  const { out, server } = await run(t, { tls: await material }, false);
  assert.equal(out[0]!.kind, "delivered");
  assert.equal(server.sessions[0]!.tls, false);
  assert.ok(!server.sessions[0]!.transcript.includes("C: STARTTLS"));
});

test("a refused STARTTLS continues in plaintext", async (t) => {
  const { out, server } = await run(t, {
    extensions: ["PIPELINING", "STARTTLS"],
    script: (l) => (l === "STARTTLS" ? "454 4.7.0 TLS not available" : undefined),
  });
  assert.equal(out[0]!.kind, "delivered");
  assert.equal(server.sessions[0]!.tls, false);
});

test("a failed TLS handshake defers (the host is treated as unreachable)", async (t) => {
  // The server only speaks TLS 1.0, which the client refuses.
  const { out, server } = await run(t, { tls: { ...(await material), maxVersion: "TLSv1" } });
  assert.equal(out[0]!.kind, "deferred");
  assert.equal(out[0]!.reply.code, 451);
  assert.match(out[0]!.reply.text, /TLS/);
  assert.equal(server.messages.length, 0);
  assert.ok(!server.sessions[0]!.transcript.some((l) => l.startsWith("C: MAIL")));
});
