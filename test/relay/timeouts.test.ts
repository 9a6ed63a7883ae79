// Time limits on the injected clock against a fake server that goes silent: no greeting, no
// reply to MAIL, no reply after end of data. Every timeout defers; none bounces.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { DnsAnswer } from "../../src/world/resolver.js";
import { startFakeSmtpServer, type FakeSmtpOptions, type FakeSmtpServer } from "../kit/fake-smtp-server.js";
import { fakeResolver } from "../kit/resolver.js";
import { job, relayChannel, relaySettings, type Harness } from "./fixtures.js";

const ok = <T>(...records: T[]): DnsAnswer<T> => ({ kind: "ok", records });

async function setup(
  t: { after(fn: () => Promise<void>): void },
  opts: FakeSmtpOptions,
): Promise<Harness & { server: FakeSmtpServer }> {
  const server = await startFakeSmtpServer(opts);
  const resolver = fakeResolver({
    mx: { "example.test": ok({ exchange: "mx1.example.test", priority: 10 }) },
    addresses: { "mx1.example.test": ok("127.0.0.1") },
  });
  const h = relayChannel(
    relaySettings(server.port, { commandTimeoutSeconds: 10, dataTimeoutSeconds: 60 }),
    resolver,
  );
  t.after(async () => {
    await h.relay.close();
    await server.close();
  });
  return { ...h, server };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test("a server that never greets: deferred 4.4.2 after the command timeout", async (t) => {
  const { relay, server, clock } = await setup(t, { greeting: null });
  const pending = relay.deliver(job({ rcpts: ["a@example.test"] }));
  await server.waitFor(() => server.connections() === 1);
  await clock.armed(1);
  clock.advance(10_000);
  const out = await pending;
  assert.equal(out[0]!.kind, "deferred");
  assert.equal(out[0]!.reply.enhanced, "4.4.2");
  assert.match(out[0]!.reply.text, /timed out waiting for reply to initial greeting/);
});

test("no reply to MAIL: deferred for the message, never bounced", async (t) => {
  const { relay, server, clock } = await setup(t, {
    script: (l) => (l.startsWith("MAIL") ? null : undefined),
  });
  const pending = relay.deliver(job({ rcpts: ["a@example.test", "b@example.test"] }));
  await server.waitFor(() => server.sessions[0]?.transcript.some((l) => l.startsWith("C: MAIL")) === true);
  await clock.armed(1);
  clock.advance(10_000);
  const out = await pending;
  assert.deepEqual(
    out.map((o) => [o.kind, o.reply.enhanced, o.kind !== "delivered" && o.scope]),
    [
      ["deferred", "4.4.2", "message"],
      ["deferred", "4.4.2", "message"],
    ],
  );
});

test("no reply after end of data: the data timeout (not the command timeout) applies", async (t) => {
  const { relay, server, clock } = await setup(t, { script: (l) => (l === "." ? null : undefined) });
  let settled = false;
  const pending = relay.deliver(job({ rcpts: ["a@example.test"] })).finally(() => (settled = true));
  await server.waitFor(() => server.sessions[0]?.transcript.includes("C: .") === true);
  await clock.armed(1);
  clock.advance(10_000);
  await tick();
  await tick();
  assert.equal(settled, false);
  clock.advance(50_000);
  const out = await pending;
  assert.equal(out[0]!.kind, "deferred");
  assert.match(out[0]!.reply.text, /end of data/);
});
