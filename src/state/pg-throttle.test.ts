// The login throttle's rows on PostgreSQL: the shared contract (test/contracts/throttle.ts) on a fresh
// database, two connection pools as two members have them.
import { freshDatabase } from "../../test/kit/postgres.js";
import { openPg } from "./pg.js";
import { openPostgresThrottleRows } from "./pg-throttle.js";
import { throttleContract } from "../../test/contracts/throttle.js";

throttleContract("postgres", async (t) => {
  const url = await freshDatabase(t);
  return (clock) => openPostgresThrottleRows(openPg(url), clock);
});
