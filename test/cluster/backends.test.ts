// Backend paths of the cluster roles: mail a backend receives itself for an account another
// backend stores goes over the delivery channel (static cluster), mail a backend relays with
// smtp.forwardTo "*" goes out through a live frontend, a dynamic cluster stores an account under
// one backend's ownership lease and moves it when that backend stops, and a start that fails
// half-way leaves nothing running behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { startFakeSmtpServer } from "../kit/fake-smtp-server.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { waitFor } from "../kit/load.js";
import { addAccounts, startCluster, waitForMail } from "./fixtures.js";

async function send(port: number, from: string, to: string, subject: string): Promise<void> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd(`MAIL FROM:<${from}>`, 250);
    await c.cmd(`RCPT TO:<${to}>`, 250);
    await c.cmd("DATA", 354);
    await c.cmd(`Subject: ${subject}\r\n\r\nHello.\r\n.`, 250);
    await c.cmd("QUIT", 221);
  } finally {
    c.close();
  }
}

test("a backend hands mail for an account it does not store to that account's backend", async (t) => {
  const c = await startCluster(t, [
    { id: "b1", role: "backend" },
    { id: "b2", role: "backend" },
  ]);
  await addAccounts(c, { "alice@example.test": "b1", "bob@example.test": "b2" });
  await send(c.node("b1").smtp[0]!.port, "alice@example.test", "bob@example.test", "b1 to bob");
  await send(c.node("b1").smtp[0]!.port, "bob@example.test", "alice@example.test", "b1 to alice");
  const bob = await waitForMail(c, "b2", "bob@example.test");
  assert.match(bob[0]!, /Subject: b1 to bob/);
  const alice = await waitForMail(c, "b1", "alice@example.test");
  assert.match(alice[0]!, /Subject: b1 to alice/);
  assert.equal((await c.mailbox("b1", "bob@example.test")).length, 0);
  // The files appear before b1 hears the 250 and logs it: wait for the lines, bounded.
  const logs = c.logs.get("b1")!.records;
  await waitFor("b1 logs bob's relay as sent", () =>
    logs.some(
      (r) => r.tag === "DELIVERY" && r.fields["to"] === "bob@example.test" && r.fields["status"] === "sent",
    ),
  );
  await waitFor("b1 logs alice's local delivery", () =>
    logs.some((r) => r.tag === "LOCAL" && r.text === "delivered" && r.fields["to"] === "alice@example.test"),
  );
});

test('a backend with smtp.forwardTo "*" relays through a live frontend', async (t) => {
  const sink = await startFakeSmtpServer();
  t.after(() => sink.close());
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: { smtp: { forwardTo: [`127.0.0.1:${sink.port}`] } } },
    { id: "b1", role: "backend", extra: { smtp: { forwardTo: ["*"] } } },
  ]);
  await addAccounts(c, { "alice@example.test": "b1" });
  await send(c.node("b1").smtp[0]!.port, "alice@example.test", "dave@remote.test", "out via f1");
  await sink.waitFor(() => sink.messages.length === 1);
  const m = sink.messages[0]!;
  assert.deepEqual(m.rcptTo, ["dave@remote.test"]);
  // Two hops: b1's Received: line, then f1's on top.
  const text = m.data.toString();
  assert.ok(text.indexOf("by f1.cluster.test") < text.indexOf("by b1.cluster.test"), text);
  await waitFor("b1's queue empty", () => c.node("b1").queue.size() === 0);
});

test("a dynamic cluster stores an account under one backend's lease and moves it when that backend stops", async (t) => {
  const dynamic = (root: string) => ({
    cluster: { kind: "dynamic" },
    local: { mailDir: join(root, "shared-mail") },
  });
  const c = await startCluster(t, []);
  for (const id of ["b1", "b2"]) await c.start({ id, role: "backend", extra: dynamic(c.root) });
  await c.start({ id: "f1", role: "frontend", extra: { cluster: { kind: "dynamic" } } });
  await c.refreshAll();
  await c.directory.addDomain("example.test");
  await c.directory.addAccount("alice@example.test", "pw");

  const shared = async (): Promise<number> => {
    return (await readdir(join(c.root, "shared-mail", "example.test", "alice", "new")).catch(() => []))
      .length;
  };
  await send(c.node("f1").smtp[0]!.port, "x@remote.test", "alice@example.test", "first");
  await waitFor("first message stored", async () => (await shared()) === 1);
  const first = await c.state.leaseOf("alice@example.test", c.clock.now());
  assert.ok(first !== null, "a lease was taken");
  const owner = first.owner;
  const other = owner === "b1" ? "b2" : "b1";

  // A graceful stop gives the lease back; the next message goes to the other backend.
  await c.stop(owner);
  await c.refreshAll();
  assert.equal(await c.state.leaseOf("alice@example.test", c.clock.now()), null);
  await send(c.node("f1").smtp[0]!.port, "x@remote.test", "alice@example.test", "second");
  await waitFor("second message stored", async () => (await shared()) === 2);
  const second = await c.state.leaseOf("alice@example.test", c.clock.now());
  assert.equal(second?.owner, other);
  assert.ok(second.token > first.token, "the new owner's token is greater");
  await waitFor("f1's queue empty", () => c.node("f1").queue.size() === 0);
});

test("a start that fails half-way stops what it started and registers nothing", async (t) => {
  const c = await startCluster(t, []);
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  const taken = (blocker.address() as net.AddressInfo).port;
  await assert.rejects(
    c.start({ id: "b1", role: "backend", extra: { channel: { listen: `127.0.0.1:${taken}` } } }),
    /EADDRINUSE/,
  );
  assert.deepEqual(await c.state.members(), []);
  // Nothing of the failed start holds on: the same node starts fine on a free port.
  const b1 = await c.start({ id: "b1", role: "backend" });
  assert.notEqual(b1.channel!.port, taken);
  assert.deepEqual(
    (await c.state.members()).map((m) => m.id),
    ["b1"],
  );
});
