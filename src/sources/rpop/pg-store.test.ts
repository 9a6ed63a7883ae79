// The PostgreSQL RPOP store: the shared contract (test/contracts/rpop-store.ts) on a fresh database, and
// its migrations: the same numbers as the SQLite adapter's, in their own table, applied once
// even by stores opening at the same moment.
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { freshDatabase } from "../../../test/kit/postgres.js";
import { openPg } from "../../state/pg.js";
import { pgSchemaVersion } from "../../state/pg-migrate.js";
import { systemClock } from "../../world/clock.js";
import { PG_RPOP_MIGRATIONS, RPOP_MIGRATIONS, RPOP_MIGRATION_TABLE } from "./migrations.js";
import { migratePostgresRpop, openPostgresRpopStore } from "./pg-store.js";
import { rpopStoreContract, spec } from "../../../test/contracts/rpop-store.js";
import { createPasswordSeal } from "./seal.js";

const seal = createPasswordSeal(randomBytes(32));

rpopStoreContract("postgres", async (t) => {
  const url = await freshDatabase(t);
  return (clock) => openPostgresRpopStore(openPg(url), clock, seal);
});

void test("postgres rpop store: migrations in rpop_schema_migrations, numbered as SQLite's, applied once", async (t) => {
  const url = await freshDatabase(t);
  assert.deepEqual(
    PG_RPOP_MIGRATIONS.map((m) => [m.version, m.name]),
    RPOP_MIGRATIONS.map((m) => [m.version, m.name]),
  );
  const [a, b] = await Promise.all([
    openPostgresRpopStore(openPg(url), systemClock, seal),
    openPostgresRpopStore(openPg(url), systemClock, seal),
  ]);
  const entry = await a.add("alice@example.test", spec);
  assert.deepEqual(await b.list(), [entry]);
  await a.close();
  await b.close();
  const pg = openPg(url);
  try {
    assert.equal(await pgSchemaVersion(pg, RPOP_MIGRATION_TABLE), PG_RPOP_MIGRATIONS.at(-1)!.version);
    const rows = await pg.query<{ version: number }>(
      `SELECT version FROM ${RPOP_MIGRATION_TABLE} ORDER BY version`,
    );
    assert.deepEqual(
      rows.map((r) => r.version),
      PG_RPOP_MIGRATIONS.map((m) => m.version),
    );
    assert.deepEqual(await migratePostgresRpop(pg, Date.now()), [], "nothing left to apply");
  } finally {
    await pg.close();
  }
});
