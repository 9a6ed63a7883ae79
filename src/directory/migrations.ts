// The directory schema as numbered migrations, applied in order and recorded in
// schema_migrations. Each version is one text for both stores (state/migration.ts), so they always
// agree on what version N means. Never edit a released migration; append a new one.
import { bothDialects, type StateMigration } from "../state/migration.js";

export const DIRECTORY_MIGRATION_TABLE = "schema_migrations";

export const MIGRATIONS: readonly StateMigration[] = [
  {
    version: 1,
    name: "domains, accounts, aliases, flow events",
    // Times are ms since the epoch (BIGINT); booleans are BOOLEAN rather than SQLite's 0/1.
    ...bothDialects(`
      CREATE TABLE domains (
        name TEXT PRIMARY KEY,
        created_at BIGINT NOT NULL
      );
      CREATE TABLE accounts (
        address TEXT PRIMARY KEY,
        local_part TEXT NOT NULL,
        domain TEXT NOT NULL REFERENCES domains(name),
        password_hash TEXT NOT NULL,
        enabled BOOLEAN NOT NULL DEFAULT TRUE,
        quota_bytes BIGINT,
        max_message_size BIGINT,
        out_flow_messages BIGINT,
        out_flow_period BIGINT,
        in_flow_messages BIGINT,
        in_flow_period BIGINT,
        used_bytes BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL
      );
      CREATE INDEX accounts_domain ON accounts(domain);
      CREATE TABLE aliases (
        address TEXT PRIMARY KEY,
        local_part TEXT NOT NULL,
        domain TEXT NOT NULL REFERENCES domains(name),
        created_at BIGINT NOT NULL
      );
      CREATE INDEX aliases_domain ON aliases(domain);
      CREATE TABLE alias_targets (
        alias TEXT NOT NULL REFERENCES aliases(address) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        target TEXT NOT NULL,
        PRIMARY KEY (alias, position)
      );
      CREATE TABLE flow_events (
        id BIGSERIAL PRIMARY KEY,
        address TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        at BIGINT NOT NULL
      );
      CREATE INDEX flow_events_lookup ON flow_events(address, direction, at);
      CREATE INDEX flow_events_at ON flow_events(at);
    `),
  },
  {
    version: 2,
    name: "sender grants",
    // One row per address (or "@domain") an account may send as; gone with the account.
    ...bothDialects(`
      CREATE TABLE sender_grants (
        account TEXT NOT NULL REFERENCES accounts(address) ON DELETE CASCADE,
        address TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (account, address)
      );
    `),
  },
];
