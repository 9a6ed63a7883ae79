// The SQLite RPOP store: the shared contract (test/contracts/rpop-store.ts) on a file of its own, and what
// only this adapter does: its own migrations beside the directory's in one file, and passwords
// sealed in the file's bytes (seal.ts), old clear rows included.
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openSqliteDirectory } from "../../directory/sqlite.js";
import { MIGRATIONS as DIRECTORY_MIGRATIONS } from "../../directory/migrations.js";
import { systemClock } from "../../world/clock.js";
import { RPOP_MIGRATIONS } from "./migrations.js";
import { openSqliteRpopStore } from "./sqlite-store.js";
import { rpopStoreContract, spec } from "../../../test/contracts/rpop-store.js";
import { createPasswordSeal, loadOrCreateRpopKey } from "./seal.js";
import { tempDir } from "../../../test/kit/temp-dir.js";

const key = randomBytes(32);
const seal = createPasswordSeal(key);

rpopStoreContract("sqlite", async (t) => {
  const dir = await tempDir(t, "mailyard-rpop-store-");
  return (clock) => Promise.resolve(openSqliteRpopStore(join(dir, "mailyard.db"), clock, seal));
});

void test("shares the directory's file with migrations of its own, applied once", async (t) => {
  const dir = await tempDir(t, "mailyard-rpop-store-");
  const path = join(dir, "mailyard.db");
  const directory = openSqliteDirectory(path, systemClock);
  await directory.addDomain("example.test");
  const store = openSqliteRpopStore(path, systemClock, seal);
  const a = await store.add("alice@example.test", spec);
  await store.close();
  assert.deepEqual(await directory.listDomains(), ["example.test"]);
  await directory.close();

  const db = new Database(path, { readonly: true });
  const versions = (table: string) =>
    (db.prepare(`SELECT version FROM ${table}`).all() as { version: number }[]).map((r) => r.version);
  assert.deepEqual(
    versions("rpop_schema_migrations"),
    RPOP_MIGRATIONS.map((m) => m.version),
  );
  assert.deepEqual(
    versions("schema_migrations"),
    DIRECTORY_MIGRATIONS.map((m) => m.version),
    "the directory's numbering is untouched",
  );
  db.close();
  // Reopening migrates nothing twice.
  const again = openSqliteRpopStore(path, systemClock, seal);
  assert.deepEqual(await again.list(), [a]);
  await again.close();
});

/** Every byte SQLite keeps for the file: the database, its WAL and shared memory. */
async function fileBytes(path: string): Promise<Buffer> {
  const parts = await Promise.all(
    ["", "-wal", "-shm"].map((s) => readFile(path + s).catch(() => Buffer.alloc(0))),
  );
  return Buffer.concat(parts);
}

const SECRET_PASSWORD = "Zq7-unmistakable-rpop-password";

void test("the password is sealed in the file, and opens again after a restart", async (t) => {
  const dir = await tempDir(t, "mailyard-rpop-store-");
  const path = join(dir, "mailyard.db");
  const store = openSqliteRpopStore(path, systemClock, seal);
  const a = await store.add("alice@example.test", { ...spec, password: SECRET_PASSWORD });
  assert.equal(a.password, SECRET_PASSWORD);
  assert.ok(!(await fileBytes(path)).includes(SECRET_PASSWORD), "not in clear while open");
  await store.close();
  assert.ok(!(await fileBytes(path)).includes(SECRET_PASSWORD), "not in clear after close");
  const stored = new Database(path, { readonly: true });
  const row = stored.prepare("SELECT password FROM rpop_entries").get() as { password: string };
  stored.close();
  assert.match(row.password, /^sealed:v1:[0-9a-f]{16}:/);

  // A restart with the same key file gives the poller the password.
  const again = openSqliteRpopStore(path, systemClock, createPasswordSeal(key));
  t.after(() => again.close());
  assert.equal((await again.list())[0]?.password, SECRET_PASSWORD);
});

void test("passwords stored in clear before sealing are sealed when the store opens", async (t) => {
  const dir = await tempDir(t, "mailyard-rpop-store-");
  const path = join(dir, "mailyard.db");
  await openSqliteRpopStore(path, systemClock, seal).close();
  // A row as a version before sealing wrote it.
  const old = new Database(path);
  old
    .prepare(
      `INSERT INTO rpop_entries (account, host, port, tls, tls_verify, user, password, apop, keep, interval_seconds, created_at)
       VALUES ('alice@example.test', 'pop.remote.test', 995, 'tls', 1, 'me', ?, 0, 1, 300, 0)`,
    )
    .run(SECRET_PASSWORD);
  old.close();
  assert.ok((await fileBytes(path)).includes(SECRET_PASSWORD), "the old row is in clear");

  const store = openSqliteRpopStore(path, systemClock, seal);
  t.after(() => store.close());
  assert.ok(!(await fileBytes(path)).includes(SECRET_PASSWORD), "sealed, and the clear bytes gone");
  assert.equal((await store.list())[0]?.password, SECRET_PASSWORD);
});

void test("a store opened with another key refuses to open (to add entries others cannot read) and says why", async (t) => {
  const dir = await tempDir(t, "mailyard-rpop-store-");
  const path = join(dir, "mailyard.db");
  const store = openSqliteRpopStore(path, systemClock, seal);
  await store.add("alice@example.test", spec);
  await store.close();
  assert.throws(
    () => openSqliteRpopStore(path, systemClock, createPasswordSeal(randomBytes(32))),
    /sealed with another key.*same rpop\.keyFile/,
  );
  // A value sealed elsewhere met while open (another member's add) is refused, not garbled.
  const other = createPasswordSeal(randomBytes(32));
  assert.throws(() => seal.open(other.seal("pw")), /sealed with another key/);
});

void test("the key file is made once, 0600 in a 0700 directory, and read back by every opener", async (t) => {
  const dir = await tempDir(t, "mailyard-rpop-key-");
  const file = join(dir, "secrets", "rpop.key");
  const [k1, k2] = await Promise.all([loadOrCreateRpopKey(file), loadOrCreateRpopKey(file)]);
  assert.deepEqual(k1, k2, "two openers at once agree on one key");
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, "secrets"))).mode & 0o777, 0o700);
  assert.deepEqual(await loadOrCreateRpopKey(file), k1);
  assert.deepEqual(await readdir(join(dir, "secrets")), ["rpop.key"], "no temporary file left");
});
