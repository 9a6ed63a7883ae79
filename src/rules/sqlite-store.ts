// The rule store on the directory's SQLite file (config/paths.ts statePath). Its tables and
// migrations are its own (rules_schema_migrations), so the directory's schema and this one move
// independently. WAL and a busy timeout as the directory does: the CLI and a running node may
// write the file at once. Rule sets are kept in the seed's text form, re-parsed on read. Opening
// moves the old shared server rule set to per-node rows (store.ts sharedServerTargets), in one
// IMMEDIATE transaction with the membership read, so two openers cannot both move it.
import type Database from "better-sqlite3";
import { migrateSqlite } from "../state/sqlite-migrate.js";
import { RULE_MIGRATIONS, RULES_MIGRATION_TABLE } from "./migrations.js";
import type { Rule } from "./seed/model.js";
import { formatRules, parseRules } from "./seed/text.js";
import {
  ruleAddressKey,
  scopeKey,
  SHARED_SERVER_KEY,
  sharedServerTargets,
  type RuleScope,
  type RuleStore,
} from "./store.js";
import { openStateFile } from "../state/sqlite-open.js";

const SWEEP_EVERY = 500;
/** settings.ts node.id's default. */
const DEFAULT_NODE_ID = "node1";

function migrate(db: Database.Database): void {
  migrateSqlite(db, RULES_MIGRATION_TABLE, RULE_MIGRATIONS, "rules", Date.now());
}

/** Moves the pre-per-node "server" row to its nodes (store.ts); a no-op once it is gone. */
function moveSharedServerRules(db: Database.Database, opener: string): void {
  db.transaction(() => {
    const old = db
      .prepare<[string], { text: string; updated_at: number }>(
        "SELECT text, updated_at FROM rule_sets WHERE scope = ?",
      )
      .get(SHARED_SERVER_KEY);
    if (old === undefined) return;
    // The cluster state shares the file; its table exists once a node has opened it.
    const hasMembers =
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cluster_members'").get() !==
      undefined;
    const members = hasMembers
      ? db
          .prepare<[], { id: string }>("SELECT id FROM cluster_members")
          .all()
          .map((r) => r.id)
      : [];
    const put = db.prepare(
      "INSERT INTO rule_sets (scope, text, updated_at) VALUES (?, ?, ?) ON CONFLICT(scope) DO NOTHING",
    );
    for (const node of sharedServerTargets(members, opener))
      put.run(scopeKey({ kind: "server", node }), old.text, old.updated_at);
    db.prepare("DELETE FROM rule_sets WHERE scope = ?").run(SHARED_SERVER_KEY);
  }).immediate();
}

export interface RuleStoreOpenOptions {
  /**
   * The node opening the store (node.id; its default when absent): where an old shared server
   * rule set goes when no cluster member ever registered (store.ts sharedServerTargets).
   */
  readonly nodeId?: string;
}

export function openSqliteRuleStore(
  path: string,
  now: () => number = Date.now,
  o: RuleStoreOpenOptions = {},
): RuleStore {
  const db = openStateFile(path, { what: "rules" }, (d) => {
    migrate(d);
    moveSharedServerRules(d, o.nodeId ?? DEFAULT_NODE_ID);
  });
  const getSet = db.prepare<[string], { text: string }>("SELECT text FROM rule_sets WHERE scope = ?");
  const putSet = db.prepare(
    "INSERT INTO rule_sets (scope, text, updated_at) VALUES (?, ?, ?) ON CONFLICT(scope) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
  );
  const delSet = db.prepare("DELETE FROM rule_sets WHERE scope = ?");
  const getScript = db.prepare<[string], { script: string }>(
    "SELECT script FROM sieve_scripts WHERE account = ?",
  );
  const putScript = db.prepare(
    "INSERT INTO sieve_scripts (account, script, updated_at) VALUES (?, ?, ?) ON CONFLICT(account) DO UPDATE SET script = excluded.script, updated_at = excluded.updated_at",
  );
  const delScript = db.prepare("DELETE FROM sieve_scripts WHERE account = ?");
  const getReply = db.prepare<[string, string, string, number], { until: number }>(
    "SELECT until FROM reply_memory WHERE account = ? AND handle = ? AND sender = ? AND until > ?",
  );
  const putReply = db.prepare(
    "INSERT INTO reply_memory (account, handle, sender, until) VALUES (?, ?, ?, ?) ON CONFLICT(account, handle, sender) DO UPDATE SET until = excluded.until",
  );
  const sweep = db.prepare("DELETE FROM reply_memory WHERE until <= ?");
  // insert, or take over an expired entry; changes = 0 when a live entry is there
  const claim = db.prepare(
    "INSERT INTO reply_memory (account, handle, sender, until) VALUES (?, ?, ?, ?) ON CONFLICT(account, handle, sender) DO UPDATE SET until = excluded.until WHERE reply_memory.until <= ?",
  );
  let writes = 0;
  const norm = ruleAddressKey;

  return {
    getRules(scope: RuleScope): Promise<Rule[]> {
      const row = getSet.get(scopeKey(scope));
      return Promise.resolve(row ? parseRules(row.text) : []);
    },
    setRules(scope: RuleScope, rules: readonly Rule[]): Promise<void> {
      if (rules.length === 0) delSet.run(scopeKey(scope));
      else putSet.run(scopeKey(scope), formatRules(rules), now());
      return Promise.resolve();
    },
    getSieve(account: string): Promise<string | null> {
      return Promise.resolve(getScript.get(norm(account))?.script ?? null);
    },
    setSieve(account: string, script: string | null): Promise<void> {
      if (script === null) delScript.run(norm(account));
      else putScript.run(norm(account), script, now());
      return Promise.resolve();
    },
    replied(account, handle, sender, at): Promise<boolean> {
      return Promise.resolve(getReply.get(norm(account), handle, norm(sender), at) !== undefined);
    },
    remember(account, handle, sender, until): Promise<void> {
      putReply.run(norm(account), handle, norm(sender), until);
      if (++writes % SWEEP_EVERY === 0) sweep.run(now());
      return Promise.resolve();
    },
    claimReply(account, handle, sender, at, until): Promise<boolean> {
      const r = claim.run(norm(account), handle, norm(sender), until, at);
      if (++writes % SWEEP_EVERY === 0) sweep.run(now());
      return Promise.resolve(r.changes > 0);
    },
    close(): Promise<void> {
      db.close();
      return Promise.resolve();
    },
  };
}
