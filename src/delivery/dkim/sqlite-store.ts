// DKIM keys on the state's SQLite file, with migrations of their own (dkim_schema_migrations),
// as the rule store does. WAL and a busy timeout: the CLI and running nodes share the file.
import { openStateFile } from "../../state/sqlite-open.js";
import { migrateSqlite } from "../../state/sqlite-migrate.js";
import { DKIM_MIGRATION_TABLE, DKIM_MIGRATIONS } from "./migrations.js";
import { keyOfRow, type DkimKeyRow, type DkimKeyStore } from "./store.js";

export function openSqliteDkimStore(path: string, now: () => number = Date.now): DkimKeyStore {
  // synchronous stays at SQLite's default (FULL), as this store has always run.
  const db = openStateFile(path, { what: "dkim", synchronousNormal: false }, (d) =>
    migrateSqlite(d, DKIM_MIGRATION_TABLE, DKIM_MIGRATIONS, "dkim", now()),
  );
  const all = db.prepare<[], DkimKeyRow>("SELECT * FROM dkim_keys ORDER BY domain, selector");
  const ofDomain = db.prepare<[string], DkimKeyRow>(
    "SELECT * FROM dkim_keys WHERE domain = ? ORDER BY created_at DESC, selector",
  );
  const insert = db.prepare(
    "INSERT INTO dkim_keys (domain, selector, algorithm, private_key, public_key, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
  );
  const delOne = db.prepare("DELETE FROM dkim_keys WHERE domain = ? AND selector = ?");
  const delAll = db.prepare("DELETE FROM dkim_keys WHERE domain = ?");
  return {
    list: () => Promise.resolve(all.all().map(keyOfRow)),
    keysOf: (domain) => Promise.resolve(ofDomain.all(domain.toLowerCase()).map(keyOfRow)),
    add: (k) =>
      Promise.resolve(
        insert.run(k.domain, k.selector, k.algorithm, k.privateKey, k.publicKey, k.createdAt).changes === 1,
      ),
    remove: (domain, selector) =>
      Promise.resolve(
        (selector === undefined
          ? delAll.run(domain.toLowerCase())
          : delOne.run(domain.toLowerCase(), selector.toLowerCase())
        ).changes,
      ),
    close: () => Promise.resolve(void db.close()),
  };
}
