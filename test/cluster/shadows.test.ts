// Shadow copies in running members (issue 16 item 1), started in-process with the real wiring
// on one fake clock: a message a frontend acknowledges is already durable in its peer's shadow
// directory when the 250 arrives; the copy is dropped once the message is finished; state
// changes follow it; queue.shadow = required refuses with 451 when no peer can hold a copy; a
// message accepted without one (preferred) is copied once a peer is there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startFakeSmtpServer } from "../kit/fake-smtp-server.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { waitFor } from "../kit/load.js";
import { startCluster, type Cluster } from "./fixtures.js";
import { queuedId, shadowsOnDisk } from "./shadow-kit.js";

async function send(port: number, to: string, subject: string): Promise<{ code: number; text: string }> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<sender@remote.test>", 250);
    await c.cmd(`RCPT TO:<${to}>`, 250);
    await c.cmd("DATA", 354);
    const end = await c.cmd(`From: <sender@remote.test>\r\nSubject: ${subject}\r\n\r\nHello.\r\n.`);
    await c.cmd("QUIT");
    return { code: end.code, text: end.lines.join("\n") };
  } finally {
    c.close();
  }
}

const dataDir = (c: Cluster, id: string): string => join(c.root, id);
const smtpPort = (c: Cluster, id: string): number => c.node(id).smtp[0]!.port;

/**
 * Waits (bounded, real time) until check() holds, moving the cluster clock a quarter second per
 * probe: batched drops and state updates wait on timers of that clock, and the disk writes
 * before them take real time.
 */
const ticking = (c: Cluster, what: string, check: () => Promise<boolean>): Promise<void> =>
  waitFor(what, async () => {
    c.clock.advance(250);
    await c.refreshAll();
    return check();
  });

/** A relay target that defers every message until `open` is set. */
async function gate(t: { after(fn: () => Promise<void>): void }) {
  const state = { open: false };
  const sink = await startFakeSmtpServer({
    script: (line) => (line === "." && !state.open ? "451 4.3.0 not yet" : undefined),
  });
  t.after(() => sink.close());
  return { sink, state };
}

test("a message f1 acknowledges is in f2's shadow directory before the 250, follows its state and is dropped once delivered", async (t) => {
  const { sink, state } = await gate(t);
  const relay = { smtp: { forwardTo: [`127.0.0.1:${sink.port}`] } };
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: relay },
    { id: "f2", role: "frontend", extra: relay },
    { id: "b1", role: "backend" },
  ]);
  const r = await send(smtpPort(c, "f1"), "dave@remote.test", "shadowed");
  assert.equal(r.code, 250);
  const id = queuedId(r.text);
  // Read the moment the 250 is in: the copy is on f2's disk already, not on its way.
  const atAck = await shadowsOnDisk(dataDir(c, "f2"), "f1");
  assert.ok(atAck.live.has(id), `f2 holds ${id} (has ${[...atAck.added].join(",")})`);
  assert.equal((await shadowsOnDisk(dataDir(c, "f1"), "f2")).added.size, 0, "f1 holds nothing of f2's");

  // The relay defers it: the retry state goes to f2 in a batch of its own (lazily).
  await ticking(c, "f2 has the retry state", async () =>
    (await shadowsOnDisk(dataDir(c, "f2"), "f1")).states.has(id),
  );
  assert.equal(c.node("f1").queue.size(), 1);
  const st = (await shadowsOnDisk(dataDir(c, "f2"), "f1")).states.get(id) as {
    recipients: { attempts: number; status: string }[];
  };
  assert.equal(st.recipients[0]!.status, "pending");
  assert.ok(st.recipients[0]!.attempts >= 1);

  // Delivered at the retry: f1 tells f2 to drop its copy.
  state.open = true;
  await c.passTime(200_000, () =>
    Promise.resolve(sink.messages.length >= 2 && c.node("f1").queue.size() === 0),
  );
  await ticking(
    c,
    "f2 dropped the copy",
    async () => !(await shadowsOnDisk(dataDir(c, "f2"), "f1")).live.has(id),
  );
  assert.equal((await shadowsOnDisk(dataDir(c, "f2"), "f1")).live.size, 0);
});

test("queue.shadow = required answers 451 when no peer of the role can hold a copy, and keeps nothing", async (t) => {
  const c = await startCluster(t, [
    {
      id: "f1",
      role: "frontend",
      extra: { queue: { shadow: "required" }, smtp: { forwardTo: ["127.0.0.1:9"] } },
    },
    { id: "b1", role: "backend" },
  ]);
  const r = await send(smtpPort(c, "f1"), "dave@remote.test", "nobody to copy to");
  assert.equal(r.code, 451);
  assert.match(r.text, /^4\.3\.0 No cluster peer can hold a copy/);
  assert.equal(c.node("f1").queue.size(), 0);
  assert.ok(
    c.logs
      .get("f1")!
      .records.some((x) => x.text === "enqueue failed" && /no shadow copy/.test(String(x.fields["error"]))),
  );
});

test("a message accepted without a copy (preferred, no peer) is copied once a peer joins", async (t) => {
  const { sink } = await gate(t);
  const relay = { smtp: { forwardTo: [`127.0.0.1:${sink.port}`] } };
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: relay },
    { id: "b1", role: "backend" },
  ]);
  const r = await send(smtpPort(c, "f1"), "dave@remote.test", "copied later");
  assert.equal(r.code, 250);
  const id = queuedId(r.text);
  assert.ok(
    c.logs
      .get("f1")!
      .records.some((x) => x.text === "message accepted without a shadow copy" && x.fields["id"] === id),
  );

  await c.start({ id: "f2", role: "frontend", extra: relay });
  await c.refreshAll();
  await waitFor("f2 holds f1's message", async () =>
    (await shadowsOnDisk(dataDir(c, "f2"), "f1")).live.has(id),
  );
  // A backend's messages are copied to the other backend, never to a frontend.
  assert.equal((await shadowsOnDisk(dataDir(c, "b1"), "f1")).added.size, 0);
});
