// PostgreSQL restarted under a cluster's feet: a private server (never the shared one, which
// others use) is restarted during a bounded load through a frontend; nothing acknowledged is
// lost, the members recover by themselves (nobody crashes), and while it is down for good mail
// the cluster cannot look up gets a 4xx, never a 5xx.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runLoad, waitFor } from "../kit/load.js";
import { startPrivatePostgres } from "../kit/postgres.js";
import { ACCOUNTS, addAccounts, check, rcptCode } from "./postgres-kit.js";
import { startProcCluster } from "./processes-kit.js";

test("PostgreSQL restarted during a bounded load: nothing acknowledged is lost, the members recover; while it is down mail gets 4xx, not 5xx", async (t) => {
  const server = await startPrivatePostgres(t);
  // No cached answers at the frontend, so every RCPT asks a backend, which asks PostgreSQL; and
  // sessions survive the 4xx of the outage (smtp.maxErrors), so the load goes on across it.
  const c = await startProcCluster(
    t,
    ["cluster.cacheSeconds=0", "cluster.negativeCacheSeconds=0", "smtp.maxErrors=100000"],
    { postgres: server.url },
  );
  await addAccounts(c);
  const members = [await c.start("b1", "backend"), await c.start("b2", "backend")];
  const f1 = await c.start("f1", "frontend");
  members.push(f1);
  await c.waitLive([f1], ["b1", "b2", "f1"]);

  let restarted: Promise<void> = Promise.resolve();
  const result = await runLoad({
    port: f1.smtp,
    sessions: 8,
    messages: 400,
    from: "sender@remote.test",
    to: (i) => ACCOUNTS[i % ACCOUNTS.length]!,
    bodyBytes: 1024,
    timeoutMs: 60_000,
    onAck: (n) => {
      if (n === 100) restarted = server.restart();
    },
  });
  await restarted;
  const back = Date.now();
  t.diagnostic(`load: acked=${result.acked.length} failed=${result.failed.length}`);
  assert.ok(result.acked.length > 100, `${result.acked.length} acknowledged, some after the restart`);
  await waitFor("every member live again", async () => {
    const live = (await f1.health().catch(() => ({ live: [] as string[] }))).live;
    return ["b1", "b2", "f1"].every((id) => live.includes(id));
  }).catch((e: unknown) => {
    for (const m of members)
      t.diagnostic(`${m.id} exit=${m.child.exitCode} ${m.lines().slice(-15).join("\n")}`);
    throw e;
  });
  t.diagnostic(`every member live in f1's view ${Date.now() - back} ms after the load ended`);
  await waitFor(
    "every acknowledged message stored",
    async () => (await check(c, result.acked)).lost.length === 0,
    45_000,
  );
  await waitFor("f1's queue empty", async () => (await f1.health()).queue === 0, 30_000);
  const r = await check(c, result.acked);
  assert.deepEqual(r.lost, []);
  assert.deepEqual(r.misplaced, []);

  // Down for good: what the cluster cannot look up is refused for now (4xx), never with a 5xx
  // that would bounce it; a new account added while it is down cannot even be known.
  await server.stop();
  const code = await rcptCode(f1.smtp, "u1@example.test");
  assert.ok(code >= 400 && code < 500, `RCPT while PostgreSQL is down: ${code}`);
  await server.start();
  // Every account's lookup, not one: each backend's pool leaves its back-off on its own.
  await waitFor(
    "RCPT accepted again for every account",
    async () => {
      for (const a of ACCOUNTS) if ((await rcptCode(f1.smtp, a).catch(() => 0)) !== 250) return false;
      return true;
    },
    20_000,
  );
  const after = await runLoad({
    port: f1.smtp,
    sessions: 2,
    messages: 20,
    firstIndex: 1000,
    from: "sender@remote.test",
    to: (i) => ACCOUNTS[i % ACCOUNTS.length]!,
    bodyBytes: 512,
    // Room for a loaded machine: messages not tried before the deadline count as not taken.
    timeoutMs: 60_000,
  });
  assert.equal(
    after.acked.length,
    20,
    `after the outage every message is taken; refused: ${after.why.join("; ")}`,
  );
  await waitFor(
    "the later messages stored",
    async () => (await check(c, after.acked)).lost.length === 0,
    20_000,
  );
  // Nobody crashed on the way (a broken connection must never take a process down).
  for (const m of members) assert.equal(m.child.exitCode, null, `${m.id} still running`);
});
