// The PostgreSQL rule store: the shared contracts (store-contract.ts) on a fresh database.
import { freshDatabase } from "../../test/kit/postgres.js";
import { openPg } from "../state/pg.js";
import { openPostgresRuleStore } from "./pg-store.js";
import { registerMembers, ruleStoreContract, sharedServerRulesContract } from "./store-contract.js";
import { openPostgresClusterState } from "../cluster/pg-state.js";
import { systemClock } from "../world/clock.js";

ruleStoreContract("postgres", async (t) => {
  const url = await freshDatabase(t);
  return (now) => openPostgresRuleStore(openPg(url), now);
});

sharedServerRulesContract("postgres", async (t) => {
  const url = await freshDatabase(t);
  await (await openPostgresRuleStore(openPg(url), Date.now)).close();
  return {
    async plantShared(text) {
      const pg = openPg(url);
      try {
        await pg.run("INSERT INTO rule_sets (scope, text, updated_at) VALUES ('server', $1, 1)", [text]);
      } finally {
        await pg.close();
      }
    },
    register: async (ids) => registerMembers(await openPostgresClusterState(openPg(url), systemClock), ids),
    open: (nodeId) => openPostgresRuleStore(openPg(url), Date.now, nodeId),
  };
});
