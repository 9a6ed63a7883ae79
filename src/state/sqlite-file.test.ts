// The SQLite state file and its -wal/-shm companions are the node user's alone, whatever the
// process umask: made 0600 when new, tightened when an older version left them 0644.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { openSqliteDirectory } from "../directory/sqlite.js";
import { systemClock } from "../world/clock.js";
import { tempDir } from "../../test/kit/temp-dir.js";

const modeOf = async (p: string): Promise<number> => (await stat(p)).mode & 0o777;

void test("a new state file, its WAL and shared memory are 0600 under umask 022; a new directory 0700", async (t) => {
  const dir = await tempDir(t, "mailyard-state-mode-");
  const old = process.umask(0o022);
  t.after(() => process.umask(old));
  const path = join(dir, "fresh", "mailyard.db");
  const store = openSqliteDirectory(path, systemClock);
  t.after(() => store.close());
  await store.addDomain("example.test");
  assert.equal(await modeOf(path), 0o600);
  assert.equal(await modeOf(`${path}-wal`), 0o600);
  assert.equal(await modeOf(`${path}-shm`), 0o600);
  assert.equal(await modeOf(join(dir, "fresh")), 0o700);
});

void test("a state file an older version left 0644 is tightened when opened", async (t) => {
  const dir = await tempDir(t, "mailyard-state-mode-");
  const path = join(dir, "mailyard.db");
  const first = openSqliteDirectory(path, systemClock);
  await first.addDomain("example.test");
  await first.close();
  chmodSync(path, 0o644);
  const again = openSqliteDirectory(path, systemClock);
  t.after(() => again.close());
  assert.deepEqual(await again.listDomains(), ["example.test"]);
  assert.equal(await modeOf(path), 0o600);
});
