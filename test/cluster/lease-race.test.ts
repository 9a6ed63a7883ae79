// Real processes racing for the same leases, on one SQLite file (what backends on one machine
// do) and on one PostgreSQL database (backends on several machines): for every account exactly
// one process wins, because acquisition is one transaction (IMMEDIATE on SQLite, a row lock on
// PostgreSQL). Each child is released by a "go" line once all are ready, so the attempts overlap.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openPostgresClusterState } from "../../src/cluster/pg-state.js";
import { openSqliteClusterState } from "../../src/cluster/sqlite-state.js";
import type { ClusterState } from "../../src/cluster/state.js";
import { openPg } from "../../src/state/pg.js";
import type { Clock } from "../../src/world/clock.js";
import { FakeClock } from "../kit/clock.js";
import { freshDatabase } from "../kit/postgres.js";

const CHILD = fileURLToPath(new URL("./lease-race-child.js", import.meta.url));
const CONTENDERS = 3;
const ACCOUNTS = 500;
const TTL = 60_000;
const LIMIT_MS = 30_000;

interface Contender {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  /** Resolves with each stdout line in turn. */
  next(): Promise<string>;
}

function contender(path: string, node: string, now: number): Contender {
  const child = spawn(process.execPath, [CHILD, path, node, String(now), String(TTL), String(ACCOUNTS)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffered = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  child.stdout.on("data", (d: Buffer) => {
    buffered += d.toString();
    for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    exited,
    next: () =>
      new Promise((resolve, reject) => {
        const l = lines.shift();
        if (l !== undefined) return resolve(l);
        waiting.push(resolve);
        child.once("exit", (code) => reject(new Error(`${node} exited (${code}) before answering: ${err}`)));
      }),
  };
}

const openState = async (where: string, clock: Clock): Promise<ClusterState> =>
  where.startsWith("postgres://")
    ? openPostgresClusterState(openPg(where), clock)
    : openSqliteClusterState(where, clock);

for (const store of ["sqlite", "postgres"] as const)
  void test(`processes racing for the same leases on ${store}: exactly one wins each`, async (t) => {
    const tmp = await mkdtemp(join(tmpdir(), "mailyard-race-"));
    const path = store === "postgres" ? await freshDatabase(t) : join(tmp, "mailyard.db");
    const clock = new FakeClock();
    // Create the schema first so the race is about leases, not migrations.
    await (await openState(path, clock)).close();

    const contenders = Array.from({ length: CONTENDERS }, (_, i) =>
      contender(path, `b${i + 1}`, clock.now()),
    );
    const deadline = setTimeout(() => contenders.forEach((c) => c.child.kill("SIGKILL")), LIMIT_MS);
    t.after(async () => {
      clearTimeout(deadline);
      for (const c of contenders) if (c.child.exitCode === null) c.child.kill("SIGKILL");
      await rm(tmp, { recursive: true, force: true });
    });

    for (const c of contenders) assert.equal(await c.next(), "ready");
    for (const c of contenders) c.child.stdin.write("go\n");
    const results = (await Promise.all(contenders.map((c) => c.next()))).map(
      (l) => JSON.parse(l) as { node: string; won: { account: string; token: number }[] },
    );

    assert.deepEqual(
      await Promise.all(contenders.map((c) => c.exited)),
      contenders.map(() => 0),
    );

    const winners = new Map<string, string[]>();
    for (const r of results) {
      for (const w of r.won) winners.set(w.account, [...(winners.get(w.account) ?? []), r.node]);
    }
    assert.equal(winners.size, ACCOUNTS, "every account was won");
    for (const [account, nodes] of winners)
      assert.equal(nodes.length, 1, `${account} won by ${nodes.join(", ")}`);

    // The file agrees with what the processes were told.
    const state = await openState(path, clock);
    t.after(() => state.close());
    const leases = await state.leases(clock.now());
    assert.equal(leases.length, ACCOUNTS);
    for (const l of leases) assert.deepEqual([l.owner], winners.get(l.account));
    // More than one process got to win something (the race was real), unless scheduling was very skewed.
    t.diagnostic(`winners per node: ${results.map((r) => `${r.node}=${r.won.length}`).join(" ")}`);
  });
