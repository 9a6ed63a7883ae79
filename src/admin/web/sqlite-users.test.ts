// The administrators' store on a real SQLite file: scrypt hashes only, names validated, its own
// migration table beside the directory's (both open on one file, as a node has them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openSqliteDirectory } from "../../directory/sqlite.js";
import { FakeClock } from "../../../test/kit/clock.js";
import { openSqliteAdminUsers } from "./sqlite-users.js";
import { AdminUserError } from "./users.js";

void test("add, verify, change the password, remove; mistakes are AdminUserErrors", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-admins-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "mailyard.db");
  const directory = openSqliteDirectory(path, new FakeClock());
  const users = openSqliteAdminUsers(path, new FakeClock());
  t.after(async () => {
    await users.close();
    await directory.close();
  });

  const added = await users.add(" Admin ", "first-password");
  assert.equal(added.name, "admin");
  assert.equal((await users.verify("ADMIN", "first-password"))?.name, "admin");
  assert.equal(await users.verify("admin", "wrong-password"), null);
  assert.equal(await users.verify("nobody", "first-password"), null);
  assert.equal(await users.verify("not a name!", "first-password"), null);

  const code = async (p: Promise<unknown>) =>
    p.then(
      () => "ok",
      (e: unknown) => (e instanceof AdminUserError ? e.code : String(e)),
    );
  assert.equal(await code(users.add("admin", "another-password")), "exists");
  assert.equal(await code(users.add("bad name", "another-password")), "invalid");
  assert.equal(await code(users.add("short", "1234567")), "invalid");
  assert.equal(await code(users.setPassword("ghost", "another-password")), "not-found");
  assert.equal(await code(users.remove("ghost")), "not-found");

  await users.setPassword("admin", "second-password");
  assert.equal(await users.verify("admin", "first-password"), null);
  assert.equal((await users.verify("admin", "second-password"))?.name, "admin");
  assert.deepEqual(
    (await users.list()).map((u) => u.name),
    ["admin"],
  );

  const raw = new Database(path, { readonly: true });
  const row = raw.prepare("SELECT password_hash FROM admin_users").get() as { password_hash: string };
  assert.match(row.password_hash, /^scrypt\$16384\$8\$1\$/);
  assert.ok(!row.password_hash.includes("second-password"));
  const versions = raw.prepare("SELECT version, name FROM admin_schema_migrations").all();
  assert.deepEqual(versions, [{ version: 1, name: "admin users" }]);
  const directoryVersions = raw.prepare("SELECT version FROM schema_migrations").all() as {
    version: number;
  }[];
  assert.ok(directoryVersions.length >= 1, "the directory's migrations are its own");
  raw.close();

  await users.remove("admin");
  assert.deepEqual(await users.list(), []);
  assert.equal(await users.verify("admin", "second-password"), null);
});
