// The WebAdmin store on a real SQLite file: the shared contract (test/contracts/admin-store.ts), and
// scrypt hashes only, in tables with their own migration table beside the directory's (both
// open on one file, as a node has them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openSqliteDirectory } from "../../directory/sqlite.js";
import { FakeClock } from "../../../test/kit/clock.js";
import { adminStoreContract } from "../../../test/contracts/admin-store.js";
import { openSqliteAdminStore } from "./sqlite-admin-store.js";
import { tempDir } from "../../../test/kit/temp-dir.js";

adminStoreContract("sqlite", async (t) => {
  const dir = await tempDir(t, "mailyard-admins-");
  return (clock) => Promise.resolve(openSqliteAdminStore(join(dir, "mailyard.db"), clock));
});

void test("sqlite admin store: scrypt hashes only, its own migrations beside the directory's", async (t) => {
  const dir = await tempDir(t, "mailyard-admins-");
  const path = join(dir, "mailyard.db");
  const directory = openSqliteDirectory(path, new FakeClock());
  const store = openSqliteAdminStore(path, new FakeClock());
  t.after(async () => {
    await store.close();
    await directory.close();
  });
  await store.users.add("admin", "second-password");

  const raw = new Database(path, { readonly: true });
  t.after(() => raw.close());
  const row = raw.prepare("SELECT password_hash FROM admin_users").get() as { password_hash: string };
  assert.match(row.password_hash, /^scrypt\$16384\$8\$1\$/);
  assert.ok(!row.password_hash.includes("second-password"));
  const versions = raw.prepare("SELECT version, name FROM admin_schema_migrations ORDER BY version").all();
  assert.deepEqual(versions, [
    { version: 1, name: "admin users" },
    { version: 2, name: "admin sessions" },
    { version: 3, name: "admin login failures" },
  ]);
  const directoryVersions = raw.prepare("SELECT version FROM schema_migrations").all();
  assert.ok(directoryVersions.length >= 1, "the directory's migrations are its own");
});
