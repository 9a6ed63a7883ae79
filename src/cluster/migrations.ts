// The cluster state schema as numbered migrations, each with its SQLite and its PostgreSQL text
// (as the directory's, src/directory/migrations.ts), recorded in cluster_migrations so neither
// schema touches the other's versions. Never edit a released one; append.
//
// Version 2 makes changes visible without polling the tables: on PostgreSQL, triggers NOTIFY
// channel mailyard_state with "<kind>:<key>"; on SQLite (no NOTIFY) they bump a per-kind counter
// in cluster_changes that the adapter polls cheaply. Only changes others must see soon fire:
// a member joining, leaving or changing what it advertises (not a heartbeat), a setting, a home,
// a lease changing hands (not a renewal).
import { bothDialects, type StateMigration } from "../state/migration.js";

export const CLUSTER_MIGRATION_TABLE = "cluster_migrations";

export const CHANGE_CHANNEL = "mailyard_state";

/**
 * SQLite's triggers for the table cluster_<kind>: one per event named (the trigger is
 * cluster_<kind>_<name>), each bumping the kind's counter in cluster_changes.
 */
function sqliteBumps(kind: string, events: Readonly<Record<string, string>>): string {
  return Object.entries(events)
    .map(
      ([name, event]) =>
        `CREATE TRIGGER cluster_${kind}_${name} AFTER ${event} ON cluster_${kind}
        BEGIN UPDATE cluster_changes SET seq = seq + 1 WHERE kind = '${kind}'; END;`,
    )
    .join("\n      ");
}

export const CLUSTER_MIGRATIONS: readonly StateMigration[] = [
  {
    version: 1,
    name: "members, settings, homes, leases",
    // "left" is a reserved word in PostgreSQL, hence quoted.
    ...bothDialects(`
      CREATE TABLE cluster_members (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('frontend', 'backend', 'single')),
        smtp TEXT NOT NULL,
        http TEXT NOT NULL,
        channel TEXT,
        submit_messages TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        last_heartbeat BIGINT NOT NULL,
        queue_size BIGINT NOT NULL DEFAULT 0,
        "left" BOOLEAN NOT NULL DEFAULT FALSE
      );
      CREATE TABLE cluster_settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE cluster_homes (
        account TEXT PRIMARY KEY,
        node TEXT NOT NULL
      );
      CREATE INDEX cluster_homes_node ON cluster_homes(node);
      -- A released lease keeps its row (owner NULL) so the next token is still greater.
      CREATE TABLE cluster_leases (
        account TEXT PRIMARY KEY,
        owner TEXT,
        token BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
    `),
  },
  {
    version: 2,
    name: "change notifications",
    sqlite: `
      CREATE TABLE cluster_changes (
        kind TEXT PRIMARY KEY NOT NULL,
        seq INTEGER NOT NULL
      );
      INSERT INTO cluster_changes (kind, seq) VALUES ('members', 0), ('settings', 0), ('homes', 0), ('leases', 0);
      ${sqliteBumps("members", {
        added: "INSERT",
        changed: "UPDATE OF role, smtp, http, channel, submit_messages, started_at, left",
        removed: "DELETE",
      })}
      ${sqliteBumps("settings", { added: "INSERT", changed: "UPDATE", removed: "DELETE" })}
      ${sqliteBumps("homes", { added: "INSERT", changed: "UPDATE", removed: "DELETE" })}
      ${sqliteBumps("leases", { added: "INSERT", changed: "UPDATE OF owner, token" })}
    `,
    // One function for every table: the payload names the kind (from the trigger's argument)
    // and the row's key. pg_notify folds identical payloads within one transaction.
    postgres: `
      CREATE FUNCTION mailyard_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        k TEXT;
      BEGIN
        IF TG_OP = 'DELETE' THEN
          k := to_jsonb(OLD) ->> TG_ARGV[1];
        ELSE
          k := to_jsonb(NEW) ->> TG_ARGV[1];
        END IF;
        PERFORM pg_notify('${CHANGE_CHANNEL}', TG_ARGV[0] || ':' || COALESCE(k, ''));
        RETURN NULL;
      END;
      $$;
      CREATE TRIGGER cluster_members_notify
        AFTER INSERT OR DELETE OR UPDATE OF role, smtp, http, channel, submit_messages, started_at, "left"
        ON cluster_members FOR EACH ROW EXECUTE FUNCTION mailyard_notify_change('members', 'id');
      CREATE TRIGGER cluster_settings_notify
        AFTER INSERT OR UPDATE OR DELETE ON cluster_settings
        FOR EACH ROW EXECUTE FUNCTION mailyard_notify_change('settings', 'key');
      CREATE TRIGGER cluster_homes_notify
        AFTER INSERT OR UPDATE OR DELETE ON cluster_homes
        FOR EACH ROW EXECUTE FUNCTION mailyard_notify_change('homes', 'account');
      CREATE TRIGGER cluster_leases_notify
        AFTER INSERT OR DELETE OR UPDATE OF owner, token ON cluster_leases
        FOR EACH ROW EXECUTE FUNCTION mailyard_notify_change('leases', 'account');
    `,
  },
  {
    version: 3,
    name: "spool epochs and take-overs",
    ...bothDialects(`
      CREATE TABLE cluster_spool_epochs (
        node TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        token BIGINT NOT NULL,
        at BIGINT NOT NULL
      );
      CREATE TABLE cluster_spool_takeovers (
        node TEXT NOT NULL,
        token BIGINT NOT NULL,
        by_node TEXT NOT NULL,
        at BIGINT NOT NULL,
        ids TEXT NOT NULL,
        PRIMARY KEY (node, token)
      );
    `),
  },
  {
    version: 4,
    name: "members' implicit-TLS submission address",
    // '' for a member without a submissions listener, and for rows of members started before.
    // No trigger change: a member advertising a new address registers again, which rewrites
    // started_at, a column the change triggers already watch.
    ...bothDialects(`
      ALTER TABLE cluster_members ADD COLUMN submissions TEXT NOT NULL DEFAULT '';
    `),
  },
];
