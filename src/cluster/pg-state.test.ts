// The PostgreSQL cluster state: the shared contract on a fresh database of the test server, plus
// what is PostgreSQL's own: the migrations are versioned and refuse a newer schema, two
// processes' worth of pools migrating one fresh database at once do not collide, and a
// connection cut by the server (a restart, a failover) is replaced: calls fail as temporary at
// most briefly, and LISTEN comes back by itself and says so.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { FakeClock } from "../../test/kit/clock.js";
import { freshDatabase } from "../../test/kit/postgres.js";
import { openPg, StateUnavailableError } from "../state/pg.js";
import { CLUSTER_MIGRATIONS } from "./migrations.js";
import { openPostgresClusterState } from "./pg-state.js";
import { clusterStateContract } from "../../test/contracts/cluster-state.js";
import type { ClusterState, StateChange } from "./state.js";

clusterStateContract("postgres", async (clock) => {
  const cleanups: (() => Promise<void>)[] = [];
  const url = await freshDatabase({ after: (fn) => cleanups.push(fn) });
  const opened: ClusterState[] = [];
  return {
    connect: async () => {
      const s = await openPostgresClusterState(openPg(url), clock);
      opened.push(s);
      return s;
    },
    async dispose() {
      for (const s of opened) await s.close();
      for (const fn of cleanups) await fn();
    },
  };
});

async function open(t: TestContext, url: string, clock = new FakeClock()): Promise<ClusterState> {
  const s = await openPostgresClusterState(openPg(url), clock);
  t.after(() => s.close());
  return s;
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

void test("postgres: migrations are recorded by version, reopening does not migrate again, a newer schema is refused", async (t) => {
  const url = await freshDatabase(t);
  const first = await openPostgresClusterState(openPg(url), new FakeClock());
  const lease = await first.acquireLease("u@example.test", "b1", Date.UTC(2026, 0, 1), 10_000);
  await first.close();
  const versions = await sql<{ version: number }>(
    url,
    "SELECT version FROM cluster_migrations ORDER BY version",
  );
  assert.deepEqual(
    versions.map((r) => r.version),
    CLUSTER_MIGRATIONS.map((m) => m.version),
  );
  const second = await open(t, url);
  assert.deepEqual(await second.leaseOf("u@example.test", Date.UTC(2026, 0, 1)), lease);
  assert.equal((await sql(url, "SELECT * FROM cluster_migrations")).length, CLUSTER_MIGRATIONS.length);

  await sql(url, "INSERT INTO cluster_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
  await assert.rejects(openPostgresClusterState(openPg(url), new FakeClock()), /newer than this program/);
});

void test("postgres: pools opening one fresh database at once migrate it exactly once", async (t) => {
  const url = await freshDatabase(t);
  const states = await Promise.all(
    Array.from({ length: 5 }, () => openPostgresClusterState(openPg(url), new FakeClock())),
  );
  t.after(async () => {
    for (const s of states) await s.close();
  });
  const rows = await sql<{ version: number }>(url, "SELECT version FROM cluster_migrations ORDER BY version");
  assert.deepEqual(
    rows.map((r) => r.version),
    CLUSTER_MIGRATIONS.map((m) => m.version),
  );
  await states[0]!.setSetting("k", "v");
  assert.equal(await states[4]!.getSetting("k"), "v");
});

void test("postgres: connections cut by the server are replaced; LISTEN reconnects and asks for a re-read", async (t) => {
  const url = await freshDatabase(t);
  const clock = new FakeClock();
  const writer = await open(t, url, clock);
  const reader = await open(t, url, clock);
  const seen: StateChange[] = [];
  const off = reader.subscribe!((c) => seen.push(c));
  t.after(() => off());
  const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!(await ok())) {
      assert.ok(Date.now() < end, `${what} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await until("listening", () => seen.length >= 4);
  await writer.register({
    id: "b1",
    role: "backend",
    smtp: "127.0.0.1:2525",
    http: "127.0.0.1:8080",
    channel: "127.0.0.1:2424",
    submitMessages: "default",
    startedAt: clock.now(),
  });
  await until("the join", () => seen.some((c) => c.kind === "members" && c.key === "b1"));

  // What a server restart does to every connection of ours: cut it.
  const db = new URL(url).pathname.slice(1);
  const cut = await sql<{ n: number }>(
    url,
    `SELECT COUNT(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = '${db}' AND pid <> pg_backend_pid()`,
  );
  assert.ok((cut[0]?.n ?? 0) >= 2, "the pools' and the listener's connections were cut");
  seen.length = 0;

  // Calls may fail as temporary for a moment (never as anything else), then work again.
  const errors: unknown[] = [];
  await until("a working call", async () => {
    try {
      await writer.heartbeat("b1", clock.now(), 1);
      return true;
    } catch (e) {
      errors.push(e);
      return false;
    }
  });
  for (const e of errors) assert.ok(e instanceof StateUnavailableError, String(e));
  // The listener is back: it says so (key null: re-read), and later changes arrive again.
  await until("the re-read after the reconnect", () =>
    seen.some((c) => c.kind === "members" && c.key === null),
  );
  await writer.setSetting("after.reconnect", "1");
  await until("a change after the reconnect", () =>
    seen.some((c) => c.kind === "settings" && c.key === "after.reconnect"),
  );
  assert.equal(await reader.getSetting("after.reconnect"), "1");
});
