// `mailyard cluster owners` on a dynamic cluster's state file: the unexpired leases as of the
// CLI's (system) clock, with owner, expiry and token; an expired one is not listed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteClusterState } from "../../src/cluster/sqlite-state.js";
import { isLease, type Lease } from "../../src/cluster/state.js";
import { FakeClock } from "../kit/clock.js";
import { mailyard } from "./run-cli.js";

void test("cluster owners lists the unexpired leases, text and JSON", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-cli-owners-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const db = join(dir, "state.db");
  const run = (...args: string[]) =>
    mailyard([
      ...args,
      "--set",
      `dataDir=${dir}`,
      "--set",
      `state.url=${db}`,
      "--set",
      "cluster.kind=dynamic",
    ]);

  // A read-only command creates no state: before any node made it, there is none to read.
  const none = await run("cluster", "owners");
  assert.equal(none.code, 2);
  assert.match(none.err, /^mailyard: no state at .*state\.db /);
  const state = openSqliteClusterState(db, new FakeClock(Date.now()));
  t.after(() => state.close());
  assert.deepEqual(await run("cluster", "owners"), { code: 0, out: "", err: "" });
  const now = Date.now();
  // Held for ten minutes from now; another taken an hour ago for a minute, long expired.
  const held = await state.acquireLease("dyn@example.test", "b2", now, 600_000);
  const gone = await state.acquireLease("old@example.test", "b1", now - 3_600_000, 60_000);
  assert.ok(isLease(held) && isLease(gone));

  const text = await run("cluster", "owners");
  assert.equal(text.code, 0, text.err);
  assert.equal(
    text.out,
    `dyn@example.test\tb2\tuntil ${new Date(held.expiresAt).toISOString()}\ttoken ${held.token}\n`,
  );
  const json = await run("cluster", "owners", "--json");
  assert.deepEqual(JSON.parse(json.out) as Lease[], [held]);
  assert.match((await run("cluster", "owners", "extra")).err, /cluster owners/);
});
