// The login throttle's rows on a real SQLite file: the shared contract (test/contracts/throttle.ts),
// with two connections on one file as two processes of one machine have them.
import { join } from "node:path";
import { openSqliteThrottleRows } from "./sqlite-throttle.js";
import { throttleContract } from "../../test/contracts/throttle.js";
import { tempDir } from "../../test/kit/temp-dir.js";

throttleContract("sqlite", async (t) => {
  const dir = await tempDir(t, "mailyard-throttle-");
  return (clock) => Promise.resolve(openSqliteThrottleRows(join(dir, "mailyard.db"), clock));
});
