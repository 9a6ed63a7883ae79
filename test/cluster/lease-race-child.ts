// One contender in lease-race.test.ts, as its own process: opens the shared state (a SQLite file
// or a postgres:// URL), says
// "ready", waits for "go" on stdin so every contender starts together, then tries to acquire
// each account and prints one JSON line with what it got.
// Args: <state file or URL> <node id> <now ms> <ttl ms> <account count>
import { createInterface } from "node:readline";
import { openPostgresClusterState } from "../../src/cluster/pg-state.js";
import { openSqliteClusterState } from "../../src/cluster/sqlite-state.js";
import { openPg } from "../../src/state/pg.js";
import { isLease } from "../../src/cluster/state.js";
import { systemClock } from "../../src/world/clock.js";

const [path, nodeId, now, ttl, count] = process.argv.slice(2);
if (
  path === undefined ||
  nodeId === undefined ||
  now === undefined ||
  ttl === undefined ||
  count === undefined
) {
  throw new Error("usage: lease-race-child <file> <node> <now> <ttl> <count>");
}
const state = path.startsWith("postgres://")
  ? await openPostgresClusterState(openPg(path), systemClock)
  : openSqliteClusterState(path, systemClock);
const lines = createInterface({ input: process.stdin });
process.stdout.write("ready\n");
for await (const line of lines) {
  if (line.trim() !== "go") continue;
  const won: { account: string; token: number }[] = [];
  for (let i = 0; i < Number(count); i++) {
    const r = await state.acquireLease(`user${i}@example.test`, nodeId, Number(now), Number(ttl));
    if (isLease(r)) won.push({ account: r.account, token: r.token });
  }
  process.stdout.write(`${JSON.stringify({ node: nodeId, won })}\n`);
  break;
}
lines.close();
await state.close();
