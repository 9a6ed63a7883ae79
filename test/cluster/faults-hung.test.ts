// A hung member (issue 16 item 6), with real processes: in a dynamic cluster the backend owning
// an account's lease is stopped with SIGSTOP (its sockets stay open, the kernel keeps accepting
// connections for it), and mail for the account is sent at once, so the frontend's delivery is
// in flight to the hung backend. The channel's reply timeout is five minutes; the delivery is
// instead dropped as soon as the backend's heartbeat lapses (the frontend logs it, and defers
// with 4.4.1), retried, and stored by the other backend once the old lease has run out, while
// the owner is still stopped. After SIGCONT the old owner stores nothing more of it: every
// message is in the shared Maildir exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { waitFor } from "../kit/load.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { maildir, startProcCluster } from "./processes-kit.js";

async function send(port: number, subject: string): Promise<void> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<x@remote.test>", 250);
    await c.cmd("RCPT TO:<alice@example.test>", 250);
    await c.cmd("DATA", 354);
    await c.cmd(`From: <x@remote.test>\r\nSubject: ${subject}\r\n\r\nHello.\r\n.`, 250);
    await c.cmd("QUIT", 221);
  } finally {
    c.close();
  }
}

const subjects = (stored: { text: string }[]): string[] =>
  stored.map((m) => /\r\nSubject: (\S+)\r\n/.exec(m.text)?.[1] ?? "?").sort();

test("a backend stopped with SIGSTOP mid-delivery: the frontend stops waiting when its heartbeat lapses, and the other backend stores the mail", async (t) => {
  const c = await startProcCluster(t, [
    "cluster.kind=dynamic",
    "cluster.leaseSeconds=3",
    // Long enough that the frontend's delivery does not start before the SIGSTOP has landed.
    "cluster.downAfterSeconds=4",
    // Far longer than the test may take: only the heartbeat can end the wait.
    "channel.timeoutSeconds=300",
  ]);
  const shared = join(c.root, "shared-mail");
  await c.directory.addDomain("example.test");
  await c.directory.addAccount("alice@example.test", "pw");
  const backends = new Map([
    ["b1", await c.start("b1", "backend", [`local.mailDir=${shared}`])],
    ["b2", await c.start("b2", "backend", [`local.mailDir=${shared}`])],
  ]);
  // Problems (level 3) logged: the dropped session and the deferral are what the test reads.
  const f1 = await c.start("f1", "frontend", ["log.level=3"]);
  await c.waitLive([f1, ...backends.values()], ["b1", "b2", "f1"]);

  await send(f1.smtp, "before");
  await waitFor(
    "the first message stored",
    async () => (await maildir(shared, "alice@example.test")).length === 1,
  );
  const lease = await c.state.leaseOf("alice@example.test", Date.now());
  assert.ok(lease !== null, "storing took the account's lease");
  const owner = backends.get(lease.owner)!;
  const other = backends.get(lease.owner === "b1" ? "b2" : "b1")!;
  // Whatever happens below, the stopped process is let go (and then killed by the kit).
  t.after(() => void owner.child.kill("SIGCONT"));

  owner.child.kill("SIGSTOP");
  await send(f1.smtp, "during");
  await waitFor(
    "the mail sent to the hung owner stored by the other backend",
    async () => (await maildir(shared, "alice@example.test")).length === 2,
    60_000,
  );
  const stored = await maildir(shared, "alice@example.test");
  const during = stored.find((m) => m.text.includes("\r\nSubject: during\r\n"));
  assert.ok(during !== undefined);
  assert.match(during.name, new RegExp(`P${other.pid}Q`), "written by the other backend");
  assert.ok(
    f1.lines().some((l) => l.includes("backend stopped answering, session dropped") && l.includes(owner.id)),
    "the frontend dropped the session to the hung backend",
  );
  assert.ok(
    f1.lines().some((l) => /status=deferred/.test(l) && l.includes(`backend ${owner.id} stopped answering`)),
    f1
      .lines()
      .filter((l) => /deferred/.test(l))
      .join("\n"),
  );
  const taken = await c.state.leaseOf("alice@example.test", Date.now());
  assert.equal(taken?.owner, other.id);
  assert.ok(taken.token > lease.token);

  // Back from the stop: it rejoins, stores nothing it was sent while stopped, and mail after
  // that is stored once.
  owner.child.kill("SIGCONT");
  await c.waitLive([f1], [owner.id], 30_000);
  await send(f1.smtp, "after");
  await waitFor(
    "the last message stored",
    async () => (await maildir(shared, "alice@example.test")).length >= 3,
  );
  await waitFor("f1's queue empty", async () => (await f1.health()).queue === 0, 30_000);
  assert.deepEqual(subjects(await maildir(shared, "alice@example.test")), ["after", "before", "during"]);
});
