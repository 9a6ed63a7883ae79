// The SQLite cluster state: the shared contract on real files, plus what is SQLite's own: it
// shares one file with the directory without either schema touching the other, and reopening
// (or a newer schema) behaves.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { FakeClock } from "../../test/kit/clock.js";
import { openSqliteDirectory } from "../directory/sqlite.js";
import { migrateSqlite } from "../state/sqlite-migrate.js";
import { CLUSTER_MIGRATION_TABLE } from "./migrations.js";
import { CLUSTER_MIGRATIONS, openSqliteClusterState } from "./sqlite-state.js";
import { clusterStateContract } from "../../test/contracts/cluster-state.js";
import type { ClusterState } from "./state.js";
import { tempDir } from "../../test/kit/temp-dir.js";

clusterStateContract("sqlite", async (clock) => {
  const tmp = await mkdtemp(join(tmpdir(), "mailyard-cstate-"));
  const path = join(tmp, "data", "mailyard.db");
  const opened: ClusterState[] = [];
  return {
    connect: () => {
      const s = openSqliteClusterState(path, clock);
      opened.push(s);
      return Promise.resolve(s);
    },
    async dispose() {
      for (const s of opened) await s.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
});

async function tempFile(t: TestContext): Promise<string> {
  const tmp = await tempDir(t, "mailyard-cstate-");
  return join(tmp, "mailyard.db");
}

void test("sqlite: the cluster state and the directory share one file", async (t) => {
  const path = await tempFile(t);
  const clock = new FakeClock();
  const dir = openSqliteDirectory(path, clock);
  const state = openSqliteClusterState(path, clock);
  t.after(async () => {
    await state.close();
    await dir.close();
  });
  await dir.addDomain("example.test");
  await dir.addAccount("u@example.test", "pw");
  await state.setHome("u@example.test", "b1");
  assert.equal((await dir.getAccount("u@example.test"))?.address, "u@example.test");
  assert.equal(await state.homeOf("u@example.test"), "b1");

  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  const tables = (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
  )
    .map((r) => r.name)
    .sort();
  for (const name of [
    "cluster_homes",
    "cluster_leases",
    "cluster_members",
    "cluster_migrations",
    "cluster_settings",
  ]) {
    assert.ok(tables.includes(name), `${name} exists`);
  }
  assert.ok(tables.includes("schema_migrations") && tables.includes("accounts"));
  const versions = db.prepare("SELECT version FROM cluster_migrations ORDER BY version").all() as {
    version: number;
  }[];
  assert.deepEqual(
    versions.map((r) => r.version),
    CLUSTER_MIGRATIONS.map((m) => m.version),
  );
  // The directory's own version table holds only directory versions.
  const dirVersions = db.prepare("SELECT name FROM schema_migrations").all() as { name: string }[];
  assert.ok(dirVersions.every((r) => !r.name.includes("leases")));
});

void test("sqlite: reopening keeps the data and does not migrate again", async (t) => {
  const path = await tempFile(t);
  const clock = new FakeClock();
  const first = openSqliteClusterState(path, clock);
  const lease = await first.acquireLease("u@example.test", "b1", clock.now(), 10_000);
  await first.close();
  const second = openSqliteClusterState(path, clock);
  t.after(() => second.close());
  assert.deepEqual(await second.leaseOf("u@example.test", clock.now()), lease);
});

void test("sqlite: a file with a newer cluster schema is refused", async (t) => {
  const path = await tempFile(t);
  const clock = new FakeClock();
  await openSqliteClusterState(path, clock).close();
  const db = new Database(path);
  db.prepare("INSERT INTO cluster_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
  db.close();
  assert.throws(() => openSqliteClusterState(path, clock), /newer than this program/);
});

void test("sqlite: members recorded before migration 4 read with no submissions address", async (t) => {
  const path = await tempFile(t);
  const clock = new FakeClock();
  const db = new Database(path);
  migrateSqlite(
    db,
    CLUSTER_MIGRATION_TABLE,
    CLUSTER_MIGRATIONS.filter((m) => m.version < 4),
    "cluster state",
    0,
  );
  db.prepare(
    `INSERT INTO cluster_members (id, role, smtp, http, channel, submit_messages, started_at, last_heartbeat)
     VALUES ('f1', 'frontend', '127.0.0.1:25', '127.0.0.1:8080', NULL, 'default', 0, 0)`,
  ).run();
  db.close();
  const s = openSqliteClusterState(path, clock);
  t.after(() => s.close());
  const [f1] = await s.members();
  assert.equal(f1?.id, "f1");
  assert.equal(f1?.submissions, "");
});
