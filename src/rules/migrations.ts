// The rule store's schema as numbered migrations, recorded in rules_schema_migrations (its own
// table, so the directory's schema and this one move independently), one text per version for
// both adapters (state/migration.ts). Never edit a released migration; append a new one.
import { bothDialects, type StateMigration } from "../state/migration.js";

export const RULES_MIGRATION_TABLE = "rules_schema_migrations";

export const RULE_MIGRATIONS: readonly StateMigration[] = [
  {
    version: 1,
    name: "rule sets, sieve scripts, reply memory",
    ...bothDialects(`
      CREATE TABLE rule_sets (scope TEXT PRIMARY KEY, text TEXT NOT NULL, updated_at BIGINT NOT NULL);
      CREATE TABLE sieve_scripts (account TEXT PRIMARY KEY, script TEXT NOT NULL, updated_at BIGINT NOT NULL);
      CREATE TABLE reply_memory (
        account TEXT NOT NULL,
        handle TEXT NOT NULL,
        sender TEXT NOT NULL,
        until BIGINT NOT NULL,
        PRIMARY KEY (account, handle, sender)
      );
      CREATE INDEX reply_memory_until ON reply_memory(until);
    `),
  },
];
