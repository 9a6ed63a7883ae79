// Versioned migrations on a SQLite state file, as pg-migrate.ts does them on PostgreSQL: a table
// of applied versions per schema, each pending migration run in order, all inside one IMMEDIATE
// transaction, so two processes opening a fresh file at once do not both migrate (the second
// waits on the write lock, then finds nothing left to do). Every store on the file (directory,
// cluster state, rules, RPOP, administrators) keeps its own table and versions.
import type Database from "better-sqlite3";

export interface SqliteMigration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: string;
}

/** Applies what is pending; throws when the file's schema is newer than this program. */
export function migrateSqlite(
  db: Database.Database,
  table: string,
  migrations: readonly SqliteMigration[],
  what: string,
  now: number,
): void {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`bad migration table name ${table}`);
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
  );
  const run = db.transaction(() => {
    const row = db.prepare(`SELECT MAX(version) AS v FROM ${table}`).get() as { v: number | null };
    const current = row.v ?? 0;
    const latest = migrations[migrations.length - 1]?.version ?? 0;
    if (current > latest)
      throw new Error(`${what} schema version ${current} is newer than this program (${latest})`);
    const record = db.prepare(`INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`);
    for (const m of migrations) {
      if (m.version <= current) continue;
      db.exec(m.sqlite);
      record.run(m.version, m.name, now);
    }
  });
  run.immediate();
}
