// The WebAdmin store on PostgreSQL: the shared contract (test/contracts/admin-store.ts) on a fresh
// database, and its migrations recorded in their own table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { freshDatabase } from "../../../test/kit/postgres.js";
import { FakeClock } from "../../../test/kit/clock.js";
import { openPg } from "../../state/pg.js";
import { adminStoreContract } from "../../../test/contracts/admin-store.js";
import { openPostgresAdminStore } from "./pg-admin-store.js";

adminStoreContract("postgres", async (t) => {
  const url = await freshDatabase(t);
  return (clock) => openPostgresAdminStore(openPg(url), clock);
});

void test("postgres admin store: scrypt hashes only, and migrations in admin_schema_migrations", async (t) => {
  const url = await freshDatabase(t);
  const store = await openPostgresAdminStore(openPg(url), new FakeClock());
  t.after(() => store.close());
  await store.users.add("admin", "secret-password");
  const raw = openPg(url);
  t.after(() => raw.close());
  const [row] = await raw.query<{ password_hash: string }>("SELECT password_hash FROM admin_users");
  assert.match(row?.password_hash ?? "", /^scrypt\$16384\$8\$1\$/);
  const versions = await raw.query("SELECT version, name FROM admin_schema_migrations ORDER BY version");
  assert.deepEqual(versions, [
    { version: 1, name: "admin users" },
    { version: 2, name: "admin sessions" },
    { version: 3, name: "admin login failures" },
  ]);
});
