// The SQLite directory: the shared contract (test/contracts/directory.ts) on real files in a temp dir,
// plus what is SQLite's own: the file runs in WAL mode and records its migrations.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { FakeClock } from "../../test/kit/clock.js";
import type { Directory } from "./directory.js";
import { directoryContract } from "../../test/contracts/directory.js";
import { openSqliteDirectory } from "./sqlite.js";
import { MIGRATIONS } from "./migrations.js";
import { tempDir } from "../../test/kit/temp-dir.js";

async function tempFile(t: TestContext): Promise<string> {
  const tmp = await tempDir(t, "mailyard-dir-");
  return join(tmp, "data", "mailyard.db");
}

directoryContract("sqlite", async (t, clock) => {
  const opened: Directory[] = [];
  // Registered before tempFile's, to run before the file goes (after hooks run in order).
  t.after(async () => {
    for (const d of opened) await d.close();
  });
  const path = await tempFile(t);
  return {
    open: () => {
      const d = openSqliteDirectory(path, clock);
      opened.push(d);
      return Promise.resolve(d);
    },
    rows: (sql) => {
      const raw = new Database(path, { readonly: true });
      try {
        return Promise.resolve(raw.prepare(sql).all() as Record<string, unknown>[]);
      } finally {
        raw.close();
      }
    },
  };
});

void test("sqlite: migrations recorded, reopen is idempotent, the file is in WAL mode", async (t) => {
  const path = await tempFile(t);
  const dir = openSqliteDirectory(path, new FakeClock());
  t.after(() => dir.close());
  await dir.addDomain("example.test");
  const other = openSqliteDirectory(path, new FakeClock());
  t.after(() => other.close());
  assert.deepEqual(await other.listDomains(), ["example.test"]);

  const raw = new Database(path, { readonly: true });
  const versions = raw.prepare("SELECT version FROM schema_migrations ORDER BY version").all();
  const mode = raw.pragma("journal_mode", { simple: true });
  raw.close();
  assert.deepEqual(
    versions,
    MIGRATIONS.map((m) => ({ version: m.version })),
  );
  assert.equal(mode, "wal");
});
