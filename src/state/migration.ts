// One schema version written for both adapters: its SQLite and its PostgreSQL text side by side,
// so version N means the same tables on either (sqlite-migrate.ts and pg-migrate.ts apply them).
// The stores whose two adapters share a version list declare it as this type.
import type { PgMigration } from "./pg-migrate.js";
import type { SqliteMigration } from "./sqlite-migrate.js";

export interface StateMigration extends SqliteMigration, PgMigration {}
