// The rule store on PostgreSQL (state.url = postgres://…), so every member of a cluster across
// machines reads the same server, cluster, domain and account rules and Sieve scripts, and one
// reply memory: the same tables as the SQLite adapter (sqlite-store.ts), with their own
// migrations table. claimReply is one INSERT … ON CONFLICT … WHERE, atomic under concurrency as
// the contract (store.ts) asks: of two deliveries racing for one vacation reply, one wins.
// Opening moves the old shared server rule set to per-node rows (store.ts sharedServerTargets)
// in one transaction that locks the row, so two nodes starting together move it once.
import type { PgHandle } from "../state/pg.js";
import { migratePg, openingOn } from "../state/pg-migrate.js";
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

const SWEEP_EVERY = 500;

/** Applies pending rule-store migrations; the versions applied. */
export const migratePostgresRules = (pg: PgHandle, now: number): Promise<number[]> =>
  migratePg(pg, RULES_MIGRATION_TABLE, RULE_MIGRATIONS, "rules", now);

/** Moves the pre-per-node "server" row to its nodes (store.ts); a no-op once it is gone. */
async function moveSharedServerRules(pg: PgHandle, opener: string): Promise<void> {
  await pg.tx(async (q) => {
    const [old] = await q.query<{ text: string; updated_at: string | number }>(
      "SELECT text, updated_at FROM rule_sets WHERE scope = $1 FOR UPDATE",
      [SHARED_SERVER_KEY],
    );
    if (old === undefined) return;
    // The cluster state shares the database; its table exists once a node has opened it.
    const [t] = await q.query<{ t: string | null }>("SELECT to_regclass('cluster_members')::text AS t");
    const members =
      t?.t === null || t === undefined
        ? []
        : (await q.query<{ id: string }>("SELECT id FROM cluster_members")).map((r) => r.id);
    for (const node of sharedServerTargets(members, opener))
      await q.run(
        "INSERT INTO rule_sets (scope, text, updated_at) VALUES ($1, $2, $3) ON CONFLICT (scope) DO NOTHING",
        [scopeKey({ kind: "server", node }), old.text, Number(old.updated_at)],
      );
    await q.run("DELETE FROM rule_sets WHERE scope = $1", [SHARED_SERVER_KEY]);
  });
}

/**
 * Opens (and migrates) the store; it owns `pg` and closes it. `nodeId` (node.id) is where an old
 * shared server rule set goes when no cluster member ever registered.
 */
export async function openPostgresRuleStore(
  pg: PgHandle,
  now: () => number,
  nodeId = "node1",
): Promise<RuleStore> {
  await openingOn(pg, async () => {
    await migratePostgresRules(pg, now());
    await moveSharedServerRules(pg, nodeId);
  });
  let writes = 0;
  const norm = ruleAddressKey;
  const sweep = async (): Promise<void> => {
    if (++writes % SWEEP_EVERY === 0) await pg.run("DELETE FROM reply_memory WHERE until <= $1", [now()]);
  };

  return {
    async getRules(scope: RuleScope): Promise<Rule[]> {
      const [row] = await pg.query<{ text: string }>("SELECT text FROM rule_sets WHERE scope = $1", [
        scopeKey(scope),
      ]);
      return row ? parseRules(row.text) : [];
    },
    async setRules(scope: RuleScope, rules: readonly Rule[]): Promise<void> {
      if (rules.length === 0) await pg.run("DELETE FROM rule_sets WHERE scope = $1", [scopeKey(scope)]);
      else
        await pg.run(
          "INSERT INTO rule_sets (scope, text, updated_at) VALUES ($1, $2, $3) ON CONFLICT (scope) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
          [scopeKey(scope), formatRules(rules), now()],
        );
    },
    async getSieve(account: string): Promise<string | null> {
      const [row] = await pg.query<{ script: string }>(
        "SELECT script FROM sieve_scripts WHERE account = $1",
        [norm(account)],
      );
      return row?.script ?? null;
    },
    async setSieve(account: string, script: string | null): Promise<void> {
      if (script === null) await pg.run("DELETE FROM sieve_scripts WHERE account = $1", [norm(account)]);
      else
        await pg.run(
          "INSERT INTO sieve_scripts (account, script, updated_at) VALUES ($1, $2, $3) ON CONFLICT (account) DO UPDATE SET script = excluded.script, updated_at = excluded.updated_at",
          [norm(account), script, now()],
        );
    },
    async replied(account, handle, sender, at): Promise<boolean> {
      const rows = await pg.query(
        "SELECT 1 FROM reply_memory WHERE account = $1 AND handle = $2 AND sender = $3 AND until > $4",
        [norm(account), handle, norm(sender), at],
      );
      return rows.length > 0;
    },
    async remember(account, handle, sender, until): Promise<void> {
      await pg.run(
        "INSERT INTO reply_memory (account, handle, sender, until) VALUES ($1, $2, $3, $4) ON CONFLICT (account, handle, sender) DO UPDATE SET until = excluded.until",
        [norm(account), handle, norm(sender), until],
      );
      await sweep();
    },
    async claimReply(account, handle, sender, at, until): Promise<boolean> {
      // Insert, or take over an expired entry; 0 rows when a live entry is there.
      const n = await pg.run(
        "INSERT INTO reply_memory (account, handle, sender, until) VALUES ($1, $2, $3, $4) ON CONFLICT (account, handle, sender) DO UPDATE SET until = excluded.until WHERE reply_memory.until <= $5",
        [norm(account), handle, norm(sender), until, at],
      );
      await sweep();
      return n > 0;
    },
    close: () => pg.close(),
  };
}
