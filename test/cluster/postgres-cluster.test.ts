// A cluster of real member processes that share nothing but PostgreSQL, as members on separate
// machines do: each has its own data directory (spool, Maildir, logs, TLS, admin token), and
// state.url is a postgres:// URL. A static cluster delivers every acknowledged message to its
// account's home backend and sees a member join and leave within a second through LISTEN/NOTIFY
// (the heartbeat is set far longer, so a poll cannot explain it). A WebAdmin administrator
// added with the CLI against PostgreSQL logs in on one member and the session holds on another.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mailyard } from "../cli/run-cli.js";
import { runLoad, waitFor } from "../kit/load.js";
import { ACCOUNTS, addAccounts, check } from "./postgres-kit.js";
import { startProcCluster } from "./processes-kit.js";

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

  const cliSets = ["--set", `state.url=${c.stateUrl}`, "--set", `dataDir=${join(c.root, "cli")}`];
  const added = await mailyard(["admin-user", "add", "admin", "--password", "pg-admin-password", ...cliSets]);
  assert.equal(added.code, 0, added.err);
  const login = await fetch(`http://127.0.0.1:${frontends[0]!.http}/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: "admin", password: "pg-admin-password" }),
  });
  assert.equal(login.status, 200, "the administrator written to PostgreSQL logs in on f1");
  const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
  const onB2 = await fetch(`http://127.0.0.1:${b2.http}/admin/session`, { headers: { cookie } });
  assert.equal(onB2.status, 200, "the session opened on f1 holds on b2");

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
