// The PostgreSQL rule store: the shared contract (store-contract.ts) on a fresh database.
import { freshDatabase } from "../../test/kit/postgres.js";
import { openPg } from "../state/pg.js";
import { openPostgresRuleStore } from "./pg-store.js";
import { ruleStoreContract } from "./store-contract.js";

ruleStoreContract("postgres", async (t) => {
  const url = await freshDatabase(t);
  return (now) => openPostgresRuleStore(openPg(url), now);
});
