// `mailyard node drain` with real processes (issue 16 item 3): two frontends and a backend on one
// SQLite state, relayed mail queued on f1 while its relay host (smtp-sink) is down; the drain
// hands every message to f2 over remote submit, f1's queue is empty and its SMTP listener answers
// 421, a restart keeps it drained, the relay host comes up and every message arrives exactly
// once; undrain makes f1 greet and deliver again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runLoad, waitFor } from "../kit/load.js";
import { freePort } from "../kit/ports.js";
import { startSink } from "../kit/sink.js";
import { cli, greeting, queueOf, tagsOf } from "./drain-kit.js";
import { startProcCluster } from "./processes-kit.js";

void test("drain hands a frontend's queue to its peer, exactly once; the node refuses mail until undrained", async (t) => {
  const relayPort = await freePort();
  const c = await startProcCluster(t);
  const forward = `smtp.forwardTo=127.0.0.1:${relayPort}`;
  await c.start("b1", "backend");
  const f1 = await c.start("f1", "frontend", [forward]);
  const f2 = await c.start("f2", "frontend", [forward]);
  await c.waitLive([f1, f2], ["b1", "f1", "f2"]);

  // The relay host is down: everything stays in f1's queue, retried every second or two.
  const messages = 60;
  const load = await runLoad({
    port: f1.smtp,
    sessions: 6,
    messages,
    from: "sender@remote.test",
    to: (i) => `r${i}@remote.test`,
    bodyBytes: 512,
    timeoutMs: 60_000,
  });
  // A 4xx under load (the cluster API slow on a busy machine) is the client's to retry: what
  // counts is every acknowledged message.
  const acked = load.acked.length;
  assert.ok(acked >= messages * 0.9, `${acked} acked: ${load.why.slice(0, 3).join(" | ")}`);
  assert.equal(await queueOf(f1), acked);

  const unknown = await cli(c, ["node", "drain", "nosuch"]);
  assert.equal(unknown.code, 2, unknown.err);
  assert.match(unknown.err, /node "nosuch" is not a member of this cluster/);

  const drained = await cli(c, ["node", "drain", "f1", "--timeout", "90"]);
  assert.equal(drained.code, 0, drained.err);
  assert.match(drained.out, /^f1\tfrontend\tup\tdrained\tqueue=0\t\(queue empty\)/m);
  assert.match(drained.err, /f1 draining, \d+ in queue/);
  assert.equal(await queueOf(f1), 0);
  assert.equal(await queueOf(f2), acked, "f2 holds every message f1 had");
  assert.match((await greeting(f1.smtp)) ?? "", /^421 4\.3\.2 /, "f1 refuses new mail");
  assert.match((await greeting(f2.smtp)) ?? "", /^220 /, "f2 still greets");
  const handed = f1.lines().filter((l) => / message handed over /.test(l));
  assert.equal(handed.length, acked);
  assert.ok(handed.every((l) => / to=f2 /.test(l)));

  const status = await cli(c, ["node", "status", "f1", "--json"]);
  assert.equal(status.code, 0, status.err);
  const [row] = JSON.parse(status.out) as { drain: string; queue: number }[];
  assert.equal(row?.drain, "drained");

  // A drained node that restarts stays drained: 421 from its first connection.
  await f1.kill("SIGTERM");
  const again = await c.start("f1", "frontend", [forward], f1.dataDir);
  assert.match((await greeting(again.smtp)) ?? "", /^421 4\.3\.2 /);
  assert.match(again.lines().join("\n"), / queue manager started, paused /);

  // The relay host comes back: f2 delivers every message, and each arrives once.
  const sink = await startSink([], { port: relayPort });
  t.after(() => sink.stop());
  await waitFor("f2's queue empty", async () => (await queueOf(f2)) === 0, 60_000);
  const tags = await tagsOf(sink);
  assert.equal(tags.length, acked, "no message lost or duplicated");
  assert.deepEqual([...new Set(tags)].sort(), [...load.acked].sort());
  assert.equal(await queueOf(again), 0);

  const undrained = await cli(c, ["node", "undrain", "f1"]);
  assert.equal(undrained.code, 0, undrained.err);
  await waitFor("f1 greets again", async () => /^220 /.test((await greeting(again.smtp)) ?? ""), 15_000);
  const more = await runLoad({
    port: again.smtp,
    sessions: 1,
    messages: 3,
    firstIndex: messages,
    from: "sender@remote.test",
    to: (i) => `r${i}@remote.test`,
    bodyBytes: 256,
    timeoutMs: 30_000,
  });
  assert.equal(more.acked.length, 3, more.why.join(" | "));
  await waitFor("f1 delivers again", async () => (await tagsOf(sink)).length === acked + 3, 30_000);
  assert.equal(await queueOf(again), 0);
});
