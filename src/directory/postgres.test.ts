// The PostgreSQL directory: the shared contract (test/contracts/directory.ts) on a fresh database of
// the test server, plus what is PostgreSQL's own: migrations recorded by version and a newer
// schema refused, several adapters on one pool.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../test/kit/clock.js";
import { freshDatabase } from "../../test/kit/postgres.js";
import { openPg, type PgHandle } from "../state/pg.js";
import type { Directory } from "./directory.js";
import { directoryContract } from "../../test/contracts/directory.js";
import { MIGRATIONS } from "./migrations.js";
import { openPostgresDirectory } from "./postgres.js";

function pool(t: TestContext, url: string): PgHandle {
  const pg = openPg(url);
  t.after(() => pg.close());
  return pg;
}

directoryContract("postgres", async (t, clock) => {
  const opened: Directory[] = [];
  const raw: PgHandle[] = [];
  // Registered before freshDatabase's drop, to run before it (after hooks run in order).
  t.after(async () => {
    for (const d of opened) await d.close();
    for (const p of raw) await p.close();
  });
  const url = await freshDatabase(t);
  return {
    open: async () => {
      const d = await openPostgresDirectory(openPg(url), clock);
      opened.push(d);
      return d;
    },
    rows: async (sql) => {
      const p = openPg(url);
      raw.push(p);
      return p.query(sql);
    },
  };
});

void test("postgres: directory migrations by version, a newer schema refused, two adapters on one pool", async (t) => {
  const url = await freshDatabase(t);
  const pg = pool(t, url);
  const clock = new FakeClock();
  const dir = await openPostgresDirectory(pg.retain(), clock);
  const second = await openPostgresDirectory(pg.retain(), clock);
  await dir.addDomain("example.test");
  await dir.addAccount("u@example.test", "pw");
  assert.equal((await second.getAccount("u@example.test"))?.address, "u@example.test");
  assert.deepEqual(
    (await pg.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version")).map(
      (r) => r.version,
    ),
    MIGRATIONS.map((m) => m.version),
  );
  // Closing one adapter leaves the pool to the other.
  await dir.close();
  assert.deepEqual(await second.listDomains(), ["example.test"]);
  await second.close();
  await pg.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)");
  await assert.rejects(openPostgresDirectory(openPg(url), clock), /newer than this program/);
});
