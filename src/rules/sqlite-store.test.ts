import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openSqliteRuleStore } from "./sqlite-store.js";
import { openSqliteDirectory } from "../directory/sqlite.js";
import { parseRules } from "./seed/text.js";
import { systemClock } from "../world/clock.js";
import { registerMembers, ruleStoreContract, sharedServerRulesContract } from "./store-contract.js";
import { openSqliteClusterState } from "../cluster/sqlite-state.js";
import { tempDir } from "../../test/kit/temp-dir.js";

ruleStoreContract("sqlite", async (t) => {
  const dir = await tempDir(t, "mailyard-rules-");
  return (now) => Promise.resolve(openSqliteRuleStore(join(dir, "mailyard.db"), now));
});

sharedServerRulesContract("sqlite", async (t) => {
  const dir = await tempDir(t, "mailyard-rules-");
  const path = join(dir, "mailyard.db");
  // the tables as a node left them: the rule store's and the cluster state's
  await openSqliteRuleStore(path).close();
  return {
    plantShared(text) {
      const db = new Database(path);
      try {
        db.prepare("INSERT INTO rule_sets (scope, text, updated_at) VALUES ('server', ?, 1)").run(text);
      } finally {
        db.close();
      }
      return Promise.resolve();
    },
    register: (ids) => registerMembers(openSqliteClusterState(path, systemClock), ids),
    open: (nodeId) => Promise.resolve(openSqliteRuleStore(path, Date.now, { nodeId })),
  };
});

// What the contract cannot see: the rule store shares the directory's file, each with its own
// migrations, and neither disturbs the other across a reopen.
void test("the rule store and the directory share one file, each with its own migration table", async (t) => {
  const dir = await tempDir(t, "mailyard-rules-");
  const path = join(dir, "mailyard.db");
  const directory = openSqliteDirectory(path, systemClock);
  await directory.addDomain("example.test");
  let store = openSqliteRuleStore(path, () => 1000);
  const junk = parseRules('(1,junk,((Subject,is,"*sale*")),(("Store in",Junk)))');
  await store.setRules({ kind: "server", node: "node1" }, junk);
  await store.close();
  store = openSqliteRuleStore(path, () => 2000);
  assert.deepEqual(await store.getRules({ kind: "server", node: "node1" }), junk);
  await store.close();
  assert.deepEqual(await directory.listDomains(), ["example.test"]);
  await directory.close();
  const raw = new Database(path, { readonly: true });
  t.after(() => raw.close());
  const tables = raw
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%migrations' ORDER BY name")
    .all() as { name: string }[];
  assert.deepEqual(
    tables.map((r) => r.name),
    ["rules_schema_migrations", "schema_migrations"],
  );
});
