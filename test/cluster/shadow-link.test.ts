// The shadow link against a real SMTP engine with the member verbs and a real shadow store:
// concurrent records share one XSHADOW batch (one fsync on the peer), the peer's refusals reach
// the sender as failures, and only a member holding the cluster secret gets anything stored.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nonce } from "../../src/cluster/secret.js";
import { shadowLink } from "../../src/cluster/shadow/link.js";
import { createShadowStore, type ShadowStore } from "../../src/cluster/shadow/store.js";
import { shadowVerb } from "../../src/cluster/shadow/verb.js";
import { remoteSubmitVerbs } from "../../src/cluster/submit/verbs.js";
import { REPLIES } from "../../src/proto/reply.js";
import { systemClock } from "../../src/world/clock.js";
import { tcpDialer } from "../../src/world/dialer.js";
import { memoryLogSink } from "../kit/log.js";
import { startTestServer } from "../kit/smtp-server.js";

const SECRET = "shadow-link-test-secret-0000042";
const id = (n: number): string => `0MX7LM0IJ0000${String(n).padStart(4, "0")}`;

async function peer(t: { after(fn: () => Promise<void>): void }, maxMessages = 1000) {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-shadow-link-"));
  const log = memoryLogSink().for("QUEUE");
  const store = createShadowStore({ dir, maxMessages, maxBytes: 100_000_000, log });
  await store.open();
  const server = await startTestServer({
    extraVerbs: remoteSubmitVerbs({
      secret: SECRET,
      nonce,
      maxMessageSize: 1_000_000,
      log,
      accept: () => Promise.resolve(REPLIES.localError),
      memberVerbs: (memberOf) => [shadowVerb({ store, maxBatch: 10_000_000, memberOf, log })],
    }),
  });
  t.after(async () => {
    await server.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, port: server.port };
}

const linkTo = (port: number, secret = SECRET) =>
  shadowLink(
    { id: "p1", smtp: `127.0.0.1:${port}` },
    {
      client: {
        secret,
        nodeId: "f1",
        helo: "f1.test",
        dialer: tcpDialer,
        clock: systemClock,
        connectTimeoutMs: 5000,
        commandTimeoutMs: 5000,
        dataTimeoutMs: 5000,
      },
      clock: systemClock,
      timeoutMs: 5000,
      maxBatch: 1_000_000,
      lazyMs: 50,
      log: memoryLogSink().for("QUEUE"),
    },
  );

const held = (s: ShadowStore): string[] => s.ids("f1").sort();

test("records sent together share one batch; later ones reuse the session; lazy ones ride along", async (t) => {
  const p = await peer(t);
  const link = linkTo(p.port);
  t.after(() => Promise.resolve(link.close()));
  await Promise.all(
    Array.from({ length: 20 }, (_, n) =>
      link.send([{ kind: "add", id: id(n), data: [Buffer.alloc(1000, n)] }]),
    ),
  );
  assert.equal(link.batches(), 1, "20 messages, one batch");
  assert.equal(p.store.count(), 20);
  // Stored under the authenticated member's id.
  assert.deepEqual(held(p.store), Array.from({ length: 20 }, (_, n) => id(n)).sort());

  const dropped = link.send([{ kind: "drop", id: id(0) }], true);
  await link.send([{ kind: "add", id: id(99), data: [Buffer.from("x")] }]);
  await dropped;
  assert.equal(link.batches(), 2, "the drop went with the next add");
  assert.ok(!held(p.store).includes(id(0)));
  // Alone, a lazy record still goes (after lazyMs).
  await link.send([{ kind: "drop", id: id(1) }], true);
  assert.ok(!held(p.store).includes(id(1)));
});

test("a full peer and a wrong secret are failures the sender sees; nothing is stored for a non-member", async (t) => {
  const p = await peer(t, 1);
  const link = linkTo(p.port);
  t.after(() => Promise.resolve(link.close()));
  await link.send([{ kind: "add", id: id(1), data: [Buffer.from("a")] }]);
  await assert.rejects(
    link.send([{ kind: "add", id: id(2), data: [Buffer.from("b")] }]),
    /452 .*Shadow store full/,
  );

  const stranger = linkTo(p.port, "not-the-cluster-secret-000000042");
  t.after(() => Promise.resolve(stranger.close()));
  await assert.rejects(stranger.send([{ kind: "reset" }]), /member authentication refused: 535/);
  assert.deepEqual(held(p.store), [id(1)]);
});
