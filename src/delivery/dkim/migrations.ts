// The DKIM key store's schema as numbered migrations, recorded in dkim_schema_migrations (its
// own table, as the rule store's), one text per version for both adapters
// (state/migration.ts). Never edit a released migration; append a new one.
import { bothDialects, type StateMigration } from "../../state/migration.js";

export const DKIM_MIGRATION_TABLE = "dkim_schema_migrations";

export const DKIM_MIGRATIONS: readonly StateMigration[] = [
  {
    version: 1,
    name: "dkim keys",
    ...bothDialects(`
      CREATE TABLE dkim_keys (
        domain TEXT NOT NULL,
        selector TEXT NOT NULL,
        algorithm TEXT NOT NULL CHECK (algorithm IN ('rsa', 'ed25519')),
        private_key TEXT NOT NULL,
        public_key TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (domain, selector)
      );
    `),
  },
];
