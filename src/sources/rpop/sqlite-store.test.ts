// The SQLite RPOP store: its own migrations beside the directory's in one file, entries per
// account, UIDL memory, pruning, and operator input checked field by field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openSqliteDirectory } from "../../directory/sqlite.js";
import { systemClock } from "../../world/clock.js";
import { openSqliteRpopStore } from "./sqlite-store.js";
import { entryView, RpopError, type RpopEntrySpec } from "./store.js";

const spec: RpopEntrySpec = {
  host: "Pop.Remote.test",
  port: 995,
  tls: "tls",
  tlsVerify: true,
  user: "me",
  password: "pw with spaces",
  apop: false,
  keep: true,
  intervalSeconds: 300,
};

void test("shares the directory's file with migrations of its own; entries, UIDL memory and pruning", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-rpop-store-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "mailyard.db");
  const directory = openSqliteDirectory(path, systemClock);
  const store = openSqliteRpopStore(path, systemClock);
  const a = await store.add("Alice@Example.test", spec);
  assert.equal(a.account, "alice@example.test");
  assert.equal(a.host, "pop.remote.test");
  const b = await store.add("bob@example.test", { ...spec, keep: false, tls: "none", port: 110 });
  assert.deepEqual(
    (await store.list()).map((e) => e.id),
    [a.id, b.id],
  );
  assert.deepEqual(
    (await store.list("ALICE@example.test")).map((e) => e.id),
    [a.id],
  );
  assert.ok(!("password" in entryView(a)));

  await store.remember(a.id, "u1", 1);
  await store.remember(a.id, "u2", 2);
  await store.remember(b.id, "u1", 3);
  assert.deepEqual([...(await store.seen(a.id))].sort(), ["u1", "u2"]);
  assert.equal(await store.prune(a.id, new Set(["u2", "u9"])), 1);
  assert.deepEqual([...(await store.seen(a.id))], ["u2"]);

  assert.equal(await store.remove("bob@example.test", a.id), false, "not bob's entry");
  assert.equal(await store.remove("alice@example.test", a.id), true);
  assert.equal(await store.remove("alice@example.test", a.id), false);
  assert.equal((await store.seen(a.id)).size, 0, "its memory went with it");
  await store.remember(a.id, "late", 4);
  assert.equal((await store.seen(a.id)).size, 0, "a removed entry remembers nothing");
  assert.deepEqual([...(await store.seen(b.id))], ["u1"]);
  await store.close();
  await directory.close();

  const db = new Database(path, { readonly: true });
  const versions = (table: string) =>
    (db.prepare(`SELECT version FROM ${table}`).all() as { version: number }[]).map((r) => r.version);
  assert.deepEqual(versions("rpop_schema_migrations"), [1]);
  assert.deepEqual(versions("schema_migrations"), [1], "the directory's numbering is untouched");
  db.close();
  // Reopening migrates nothing twice.
  const again = openSqliteRpopStore(path, systemClock);
  assert.equal((await again.list()).length, 1);
  await again.close();
});

void test("invalid entries are refused naming the field", async () => {
  const store = openSqliteRpopStore(":memory:", systemClock);
  const bad: [Partial<RpopEntrySpec>, RegExp][] = [
    [{ host: "bad host" }, /^host/],
    [{ port: 0 }, /^port/],
    [{ tls: "ssl" as "tls" }, /^tls/],
    [{ user: "two words" }, /^user/],
    [{ password: "line\r\nbreak" }, /^password/],
    [{ intervalSeconds: 0 }, /^intervalSeconds/],
  ];
  for (const [patch, why] of bad) {
    await assert.rejects(store.add("a@example.test", { ...spec, ...patch }), (e: unknown) => {
      assert.ok(e instanceof RpopError);
      assert.match(e.message, why);
      return true;
    });
  }
  assert.equal((await store.list()).length, 0);
  await store.close();
});
