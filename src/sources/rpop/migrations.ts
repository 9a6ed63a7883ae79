// The RPOP tables as numbered migrations of their own, recorded in rpop_schema_migrations, so
// they live in the directory's SQLite file without touching the directory's migration numbers.
// Never edit a released migration; append a new one.

export interface RpopMigration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: string;
}

export const RPOP_MIGRATIONS: readonly RpopMigration[] = [
  {
    version: 1,
    name: "rpop entries and fetched unique ids",
    sqlite: `
      CREATE TABLE rpop_entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        tls TEXT NOT NULL CHECK (tls IN ('none', 'stls', 'tls')),
        tls_verify INTEGER NOT NULL,
        user TEXT NOT NULL,
        password TEXT NOT NULL,
        apop INTEGER NOT NULL,
        keep INTEGER NOT NULL,
        interval_seconds INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX rpop_entries_account ON rpop_entries(account);
      CREATE TABLE rpop_uids (
        entry INTEGER NOT NULL REFERENCES rpop_entries(id) ON DELETE CASCADE,
        uid TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        PRIMARY KEY (entry, uid)
      );
    `,
  },
];
