// Concurrent starts and migrations on one SQLite state file wait their turn (issue 16 item 7):
// several `mailyard db migrate` processes (each opens every store on the file, as a starting
// node does) are started at once on a fresh file while another connection holds its write lock
// for twice SQLite's busy timeout (a long migration or start elsewhere). Every one of them
// exits 0 once the lock is let go, and every schema is at its latest version, each applied once.
// Before, they exited with "database is locked" when the busy timeout ran out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { CLUSTER_MIGRATIONS } from "../../src/cluster/migrations.js";
import { MIGRATIONS } from "../../src/directory/migrations.js";
import { BUSY_TIMEOUT_MS } from "../../src/state/sqlite-open.js";
import { mailyard } from "./run-cli.js";

const CONTENDERS = 4;

void test("db migrate processes started together on a locked state file wait their turn, none fails", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-turns-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "state.db");
  const holder = new Database(path);
  t.after(() => void (holder.open && holder.close()));
  holder.pragma("journal_mode = WAL");
  holder.exec("BEGIN IMMEDIATE");
  holder.exec("CREATE TABLE someone_elses_migration (x INTEGER)");

  const runs = Array.from({ length: CONTENDERS }, (_, i) =>
    mailyard(["db", "migrate", "--json"], {
      MAILYARD_STATE_URL: path,
      MAILYARD_DATADIR: join(dir, `data${i}`),
    }),
  );
  // The scenario, not a readiness wait: the lock stays taken longer than one busy timeout.
  const held = setTimeout(() => holder.exec("COMMIT"), 2 * BUSY_TIMEOUT_MS);
  t.after(() => clearTimeout(held));
  const results = await Promise.all(runs);
  for (const [i, r] of results.entries()) assert.equal(r.code, 0, `contender ${i}: ${r.err}`);

  const versions = (table: string): number[] =>
    (holder.prepare(`SELECT version FROM ${table} ORDER BY version`).all() as { version: number }[]).map(
      (r) => r.version,
    );
  assert.deepEqual(
    versions("schema_migrations"),
    MIGRATIONS.map((m) => m.version),
  );
  assert.deepEqual(
    versions("cluster_migrations"),
    CLUSTER_MIGRATIONS.map((m) => m.version),
  );
  // Every contender reports the same end state.
  const reports = results.map((r) => JSON.parse(r.out) as Record<string, { version: number }>);
  for (const r of reports) assert.equal(r["cluster"]?.version, CLUSTER_MIGRATIONS.at(-1)?.version);
});
