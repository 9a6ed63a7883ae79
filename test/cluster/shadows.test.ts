// Shadow copies in running members (issue 16 item 1), started in-process with the real wiring
// on one fake clock: a message a frontend acknowledges is already durable in its peer's shadow
// directory when the 250 arrives; the copy is dropped once the message is finished; state
// changes follow it; queue.shadow = required refuses with 451 when no peer can hold a copy; a
// message accepted without one (preferred) is copied once a peer is there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
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
  await ticking(c, "f1 delivered it", () =>
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

test("take-over: f1 stopped and its disk gone, f2 takes its epoch after the lease and delivers the copy with its retry state", async (t) => {
  const { sink, state } = await gate(t);
  const relay = { smtp: { forwardTo: [`127.0.0.1:${sink.port}`] } };
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: relay },
    { id: "f2", role: "frontend", extra: relay },
    { id: "b1", role: "backend" },
  ]);
  const r = await send(smtpPort(c, "f1"), "dave@remote.test", "taken over");
  const id = queuedId(r.text);
  await ticking(c, "f2 has the retry state", async () =>
    (await shadowsOnDisk(dataDir(c, "f2"), "f1")).states.has(id),
  );
  const before = await c.state.spoolEpoch("f1");
  assert.equal(before?.holder, "f1");

  // The machine is gone: f1's process and its data directory.
  await c.stop("f1");
  await rm(dataDir(c, "f1"), { recursive: true, force: true });
  state.open = true;
  // Nothing moves before the lease (60 s) has run out.
  for (let i = 0; i < 50; i++) {
    c.clock.advance(1000);
    await c.refreshAll();
  }
  assert.equal(c.node("f2").queue.size(), 0, "not taken over before the lease");
  await c.passTime(30_000, () =>
    Promise.resolve(c.node("f2").queue.size() === 1 || sink.messages.length >= 2),
  );
  const after = await c.state.spoolEpoch("f1");
  assert.equal(after?.holder, "f2");
  assert.ok(after.token > before.token, "the take-over raised the token");
  assert.deepEqual(
    (await c.state.spoolTakeovers("f1", before.token)).map((x) => x.ids),
    [[id]],
  );

  // Delivered by f2 under the same id, its earlier attempt counted.
  await ticking(c, "f2 delivered the copy", () =>
    Promise.resolve(
      sink.messages.some((m) => /Subject: taken over/.test(m.data.toString())) &&
        c.node("f2").queue.size() === 0,
    ),
  );
  const logs = c.logs.get("f2")!.records;
  assert.ok(
    logs.some(
      (x) => x.text === "spool taken over" && x.fields["node"] === "f1" && x.fields["messages"] === 1,
    ),
  );
  const done = logs.find(
    (x) => x.text === "recipient status" && x.fields["id"] === id && x.fields["status"] === "sent",
  );
  assert.ok(done !== undefined, "f2 delivered it under its id");
  assert.equal((await shadowsOnDisk(dataDir(c, "f2"), "f1")).live.size, 0, "the copies were used up");
});

test("take-over: f1 back with its disk finds its epoch taken and drops what f2 promoted (or holds it)", async (t) => {
  for (const takenEntries of ["drop", "hold"] as const) {
    const { sink } = await gate(t);
    const relay = { smtp: { forwardTo: [`127.0.0.1:${sink.port}`] }, queue: { takenEntries } };
    const c = await startCluster(t, [
      { id: "f1", role: "frontend", extra: relay },
      { id: "f2", role: "frontend", extra: relay },
      { id: "b1", role: "backend" },
    ]);
    const id = queuedId((await send(smtpPort(c, "f1"), "dave@remote.test", "back again")).text);
    await c.stop("f1");
    await c.passTime(90_000, () => Promise.resolve(c.node("f2").queue.size() === 1));
    assert.equal(c.node("f2").queue.show(id)?.id, id);

    const f1 = await c.start({ id: "f1", role: "frontend", extra: relay });
    await c.refreshAll();
    if (takenEntries === "drop") assert.equal(f1.queue.size(), 0, "f1 does not deliver it a second time");
    else assert.equal(f1.queue.show(id)?.state, "held");
    assert.equal((await c.state.spoolEpoch("f1"))?.holder, "f1", "f1 holds its spool again");
  }
});
