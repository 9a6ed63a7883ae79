// The login throttle's schema (state/throttle.ts) as numbered migrations, recorded in
// throttle_schema_migrations, the same versions for SQLite and PostgreSQL. Never edit a released
// migration.
import { bothDialects, type StateMigration } from "./migration.js";

export const THROTTLE_MIGRATION_TABLE = "throttle_schema_migrations";

export const THROTTLE_MIGRATIONS: readonly StateMigration[] = [
  {
    version: 1,
    name: "login failures",
    // key: "<scope>:u:<canonical name>" or "<scope>:a:<client address>" (throttle.ts).
    ...bothDialects(`
      CREATE TABLE login_failures (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        locked_until BIGINT NOT NULL,
        last BIGINT NOT NULL
      );
      CREATE INDEX login_failures_last ON login_failures(last);
    `),
  },
];
