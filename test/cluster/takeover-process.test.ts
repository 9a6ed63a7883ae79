// Take-over with real member processes (issue 16 item 2): frontend f1 acknowledges relayed mail
// that the next hop defers, so it stays in f1's queue with its copies on f2; f1 is killed with
// SIGKILL and its data directory deleted (the machine and its disk are gone). With a short
// lease (queue.takeoverLeaseSeconds=3) f2 takes f1's spool epoch and delivers every message,
// without f1 ever coming back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { startFakeSmtpServer } from "../kit/fake-smtp-server.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { waitFor } from "../kit/load.js";
import { startProcCluster } from "./processes-kit.js";
import { queuedId, shadowsOnDisk } from "./shadow-kit.js";

async function send(port: number, subject: string): Promise<string> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<sender@remote.test>", 250);
    await c.cmd("RCPT TO:<dave@remote.test>", 250);
    await c.cmd("DATA", 354);
    const end = await c.cmd(`From: <sender@remote.test>\r\nSubject: ${subject}\r\n\r\nHello.\r\n.`, 250);
    await c.cmd("QUIT", 221);
    return queuedId(end.lines.join("\n"));
  } finally {
    c.close();
  }
}

test("kill -9 of a frontend and its disk deleted: its peer delivers every acknowledged message after the lease", async (t) => {
  const gate = { open: false };
  const sink = await startFakeSmtpServer({
    script: (line) => (line === "." && !gate.open ? "451 4.3.0 not yet" : undefined),
  });
  t.after(() => sink.close());
  const c = await startProcCluster(t, [
    `smtp.forwardTo=127.0.0.1:${sink.port}`,
    "queue.takeoverLeaseSeconds=3",
    "local.deliverOnReceipt=false",
  ]);
  await c.start("b1", "backend");
  const f1 = await c.start("f1", "frontend");
  const f2 = await c.start("f2", "frontend");
  await c.waitLive([f1, f2], ["b1", "f1", "f2"]);

  const subjects = Array.from({ length: 20 }, (_, i) => `copied-${i}`);
  const ids: string[] = [];
  for (const s of subjects) ids.push(await send(f1.smtp, s));
  // Every 250 came after f2's fsync of the copy.
  const held = await shadowsOnDisk(f2.dataDir, "f1");
  assert.deepEqual(
    ids.filter((id) => !held.live.has(id)),
    [],
    "f2 holds a copy of every acknowledged message",
  );
  await waitFor("f1 tried them all once", () => sink.messages.length >= subjects.length);

  await f1.kill("SIGKILL");
  await rm(f1.dataDir, { recursive: true, force: true });
  const before = sink.messages.length;
  gate.open = true;

  await f2.waitForLine(/ spool taken over .*node=f1/, 30_000);
  const delivered = (): string[] =>
    sink.messages
      .slice(before)
      .flatMap((m) => [...m.data.toString().matchAll(/^Subject: (copied-\d+)\r?$/gm)].map((x) => x[1]!));
  await waitFor("f2 delivered every message", () => subjects.every((s) => delivered().includes(s)), 45_000);
  const epoch = await c.state.spoolEpoch("f1");
  assert.equal(epoch?.holder, "f2");
  const dups = delivered().length - new Set(delivered()).size;
  // Nothing was being delivered when f1 died (every try had been deferred): no duplicates.
  assert.equal(dups, 0);
  await waitFor("f2's queue empty", async () => (await f2.health()).queue === 0, 20_000);
});
