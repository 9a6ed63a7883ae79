// The login throttle's rows on a real SQLite file: the shared contract (test/contracts/throttle.ts),
// with two connections on one file as two processes of one machine have them.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteThrottleRows } from "./sqlite-throttle.js";
import { throttleContract } from "../../test/contracts/throttle.js";

throttleContract("sqlite", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-throttle-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return (clock) => Promise.resolve(openSqliteThrottleRows(join(dir, "mailyard.db"), clock));
});
