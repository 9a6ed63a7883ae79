// The login throttle's rows on PostgreSQL: the shared contract (throttle-contract.ts) on a fresh
// database, two connection pools as two members have them.
import { freshDatabase } from "../../test/kit/postgres.js";
import { openPg } from "./pg.js";
import { openPostgresThrottleRows } from "./pg-throttle.js";
import { throttleContract } from "./throttle-contract.js";

throttleContract("postgres", async (t) => {
  const url = await freshDatabase(t);
  return (clock) => openPostgresThrottleRows(openPg(url), clock);
});
