// A cluster of real member processes that share nothing but PostgreSQL, as members on separate
// machines do: each has its own data directory (spool, Maildir, logs, TLS, admin token), and
// state.url is a postgres:// URL. A static cluster delivers every acknowledged message to its
// account's home backend and sees a member join within a second through LISTEN/NOTIFY (the
// heartbeat is set far longer, so a poll cannot explain it); a private PostgreSQL server (never
// the shared one) restarted during a bounded load loses nothing that was acknowledged and the
// members recover by themselves; while it is down, mail the cluster cannot vouch for gets a 4xx.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLoad, waitFor } from "../kit/load.js";
import { startPrivatePostgres } from "../kit/postgres.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { maildirTags, startProcCluster, type ProcCluster } from "./processes-kit.js";

const HOMES: Readonly<Record<string, "b1" | "b2">> = {
  "u1@example.test": "b1",
  "u2@example.test": "b1",
  "v1@example.test": "b2",
  "v2@example.test": "b2",
};
const ACCOUNTS = Object.keys(HOMES);
const indexOf = (tag: string): number => Number(tag.slice("load-".length));

async function addAccounts(c: ProcCluster): Promise<void> {
  await c.directory.addDomain("example.test");
  for (const [address, home] of Object.entries(HOMES)) {
    await c.directory.addAccount(address, "pw");
    await c.state.setHome(address, home);
  }
}

/** Acknowledged tags found in no mailbox, and tags found anywhere but their home. */
async function check(c: ProcCluster, acked: readonly string[]) {
  const found = new Map<string, string[]>();
  for (const address of ACCOUNTS)
    for (const node of ["b1", "b2"])
      for (const tag of await maildirTags(join(c.root, node, "mail"), address))
        found.set(tag, [...(found.get(tag) ?? []), `${node}:${address}`]);
  const home = (tag: string) => {
    const a = ACCOUNTS[indexOf(tag) % ACCOUNTS.length]!;
    return `${HOMES[a]}:${a}`;
  };
  return {
    lost: acked.filter((tag) => !found.has(tag)),
    misplaced: [...found].filter(([tag, at]) => at.some((p) => p !== home(tag))).map(([tag]) => tag),
    duplicated: [...found].filter(([, at]) => at.length > 1).map(([tag]) => tag),
  };
}

/** One RCPT through a member: the reply code. */
async function rcptCode(port: number, to: string): Promise<number> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO probe.test", 250);
    await c.cmd("MAIL FROM:<probe@remote.test>", 250);
    const r = await c.cmd(`RCPT TO:<${to}>`);
    await c.cmd("QUIT");
    return r.code;
  } finally {
    c.close();
  }
}

test("a static cluster sharing only PostgreSQL: members seen within a second, every acknowledged message in its home Maildir", async (t) => {
  // Heartbeats every 10 s: a member seen sooner was seen through a notification.
  const c = await startProcCluster(t, ["cluster.heartbeatSeconds=10", "cluster.downAfterSeconds=30"], {
    postgres: true,
  });
  assert.match(c.stateUrl, /^postgres:\/\//);
  await addAccounts(c);
  const b1 = await c.start("b1", "backend");
  const frontends = [await c.start("f1", "frontend"), await c.start("f2", "frontend")];
  await c.waitLive(frontends, ["b1", "f1", "f2"], 3000);
  const b2 = await c.start("b2", "backend");
  const joined = Date.now();
  await c.waitLive([...frontends, b1], ["b2"], 1500);
  t.diagnostic(`b2 seen by f1, f2 and b1 ${Date.now() - joined} ms after it joined`);
  // Nothing but PostgreSQL is shared: no state file in any data directory or the test's root.
  for (const m of [b1, b2, ...frontends]) assert.notEqual(m.dataDir, c.root);

  const loads = await Promise.all(
    frontends.map((f, k) =>
      runLoad({
        port: f.smtp,
        sessions: 6,
        messages: 100,
        firstIndex: k * 100,
        from: "sender@remote.test",
        to: (i) => ACCOUNTS[i % ACCOUNTS.length]!,
        bodyBytes: 1024,
        timeoutMs: 40_000,
      }),
    ),
  );
  const acked = loads.flatMap((l) => l.acked);
  assert.equal(acked.length, 200, `all acknowledged: failed ${loads.flatMap((l) => l.failed).join(",")}`);
  await waitFor(
    "every acknowledged message stored",
    async () => (await check(c, acked)).lost.length === 0,
    30_000,
  );
  for (const f of frontends)
    await waitFor(`${f.id}'s queue empty`, async () => (await f.health()).queue === 0);
  const r = await check(c, acked);
  assert.deepEqual(r.misplaced, []);
  assert.deepEqual(r.duplicated, [], "nobody was killed: nothing delivered twice");

  // A member stopping is seen at once too (it leaves; the notification carries it).
  await b2.kill("SIGTERM");
  const left = Date.now();
  await waitFor(
    "b2 down in f1's view",
    async () => !(await frontends[0]!.health()).live.includes("b2"),
    1500,
  );
  t.diagnostic(`b2's leaving seen ${Date.now() - left} ms after it exited`);
});

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
  await waitFor(
    "RCPT accepted again",
    async () => (await rcptCode(f1.smtp, "u1@example.test").catch(() => 0)) === 250,
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
    timeoutMs: 20_000,
  });
  assert.equal(after.acked.length, 20, "after the outage every message is taken");
  await waitFor(
    "the later messages stored",
    async () => (await check(c, after.acked)).lost.length === 0,
    20_000,
  );
  // Nobody crashed on the way (a broken connection must never take a process down).
  for (const m of members) assert.equal(m.child.exitCode, null, `${m.id} still running`);
});
