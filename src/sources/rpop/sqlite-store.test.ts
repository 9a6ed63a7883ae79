// The SQLite RPOP store: the shared contract (store-contract.ts) on a file of its own, and what
// only this adapter does: its own migrations beside the directory's in one file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openSqliteDirectory } from "../../directory/sqlite.js";
import { systemClock } from "../../world/clock.js";
import { RPOP_MIGRATIONS } from "./migrations.js";
import { openSqliteRpopStore } from "./sqlite-store.js";
import { rpopStoreContract, spec } from "./store-contract.js";

rpopStoreContract("sqlite", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-rpop-store-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return (clock) => Promise.resolve(openSqliteRpopStore(join(dir, "mailyard.db"), clock));
});

void test("shares the directory's file with migrations of its own, applied once", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-rpop-store-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "mailyard.db");
  const directory = openSqliteDirectory(path, systemClock);
  await directory.addDomain("example.test");
  const store = openSqliteRpopStore(path, systemClock);
  const a = await store.add("alice@example.test", spec);
  await store.close();
  assert.deepEqual(await directory.listDomains(), ["example.test"]);
  await directory.close();

  const db = new Database(path, { readonly: true });
  const versions = (table: string) =>
    (db.prepare(`SELECT version FROM ${table}`).all() as { version: number }[]).map((r) => r.version);
  assert.deepEqual(
    versions("rpop_schema_migrations"),
    RPOP_MIGRATIONS.map((m) => m.version),
  );
  assert.deepEqual(versions("schema_migrations"), [1], "the directory's numbering is untouched");
  db.close();
  // Reopening migrates nothing twice.
  const again = openSqliteRpopStore(path, systemClock);
  assert.deepEqual(await again.list(), [a]);
  await again.close();
});
