// The administrators' schema as numbered migrations, recorded in admin_schema_migrations (not
// the directory's schema_migrations: the two sets are versioned independently). A PostgreSQL
// adapter mirrors the same versions with its own SQL. Never edit a released migration.

export interface AdminMigration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: string;
}

export const ADMIN_MIGRATIONS: readonly AdminMigration[] = [
  {
    version: 1,
    name: "admin users",
    sqlite: `
      CREATE TABLE admin_users (
        name TEXT PRIMARY KEY NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
];
