// Versioned migrations on PostgreSQL, as the SQLite adapters do them: a table of applied
// versions, each pending migration run in order inside one transaction. A transaction-scoped
// advisory lock serializes migrators, so nodes starting together against a fresh database (or
// `mailyard db migrate` while nodes start) never both create a table; the loser waits, then finds
// nothing left to do. PostgreSQL DDL is transactional, so a failed migration leaves nothing half
// applied.
import type { PgHandle } from "./pg.js";

export interface PgMigration {
  readonly version: number;
  readonly name: string;
  readonly postgres: string;
}

// Any fixed 64-bit number, the same in every process: "mailyard" in ASCII.
const MIGRATION_LOCK = "7881917536497379940";

/** Applies what is pending; returns the versions it applied (empty when up to date). */
export async function migratePg(
  pg: PgHandle,
  table: string,
  migrations: readonly PgMigration[],
  what: string,
  now: number,
): Promise<number[]> {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`bad migration table name ${table}`);
  return pg.tx(async (q) => {
    await q.query("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK]);
    await q.run(
      `CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`,
    );
    const [row] = await q.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${table}`);
    const current = row?.v ?? 0;
    const latest = migrations[migrations.length - 1]?.version ?? 0;
    if (current > latest)
      throw new Error(`${what} schema version ${current} is newer than this program (${latest})`);
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      await q.run(m.postgres);
      await q.run(`INSERT INTO ${table} (version, name, applied_at) VALUES ($1, $2, $3)`, [
        m.version,
        m.name,
        now,
      ]);
      applied.push(m.version);
    }
    return applied;
  });
}

/** The highest applied version (0 before any). */
export async function pgSchemaVersion(pg: PgHandle, table: string): Promise<number> {
  const [exists] = await pg.query<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [table]);
  if (exists?.t === null || exists === undefined) return 0;
  const [row] = await pg.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${table}`);
  return row?.v ?? 0;
}

/**
 * Runs a store's opening steps (its migrations, a one-off move) on a pool share the store owns:
 * when a step fails the share is closed before the error goes on, so a failed open holds nothing.
 */
export async function openingOn(pg: PgHandle, steps: () => Promise<unknown>): Promise<void> {
  try {
    await steps();
  } catch (e) {
    await pg.close();
    throw e;
  }
}
