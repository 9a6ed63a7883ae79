// The WebAdmin's schema (administrators, login sessions, login failures) as numbered migrations, recorded in
// admin_schema_migrations (not the directory's schema_migrations: the sets are versioned
// independently), the same versions for SQLite and PostgreSQL. Never edit a released migration.
import { bothDialects, type StateMigration } from "../../state/migration.js";

export const ADMIN_MIGRATION_TABLE = "admin_schema_migrations";

export const ADMIN_MIGRATIONS: readonly StateMigration[] = [
  {
    version: 1,
    name: "admin users",
    ...bothDialects(`
      CREATE TABLE admin_users (
        name TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
    `),
  },
  {
    version: 2,
    name: "admin sessions",
    // key is the SHA-256 of the cookie value: the table never holds the bearer value itself.
    ...bothDialects(`
      CREATE TABLE admin_sessions (
        key TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen BIGINT NOT NULL
      );
      CREATE INDEX admin_sessions_user ON admin_sessions(user_name);
      CREATE INDEX admin_sessions_last_seen ON admin_sessions(last_seen);
    `),
  },
  {
    version: 3,
    name: "admin login failures",
    // key: "u:<name>" or "a:<client address>" (throttle.ts).
    ...bothDialects(`
      CREATE TABLE admin_login_failures (
        key TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        locked_until BIGINT NOT NULL,
        last BIGINT NOT NULL
      );
      CREATE INDEX admin_login_failures_last ON admin_login_failures(last);
    `),
  },
];
