// The RPOP store in the directory's SQLite file (config/paths.ts statePath): WAL, a busy
// timeout, and its own migrations (migrations.ts) applied inside an IMMEDIATE transaction, as
// the directory does, so the node and the CLI can open the file at once. A claim is one upsert,
// and SQLite runs one writer at a time, so processes sharing the file never both win one.
import type Database from "better-sqlite3";
import { migrateSqlite } from "../../state/sqlite-migrate.js";
import type { Clock } from "../../world/clock.js";
import { RPOP_MIGRATION_TABLE, RPOP_MIGRATIONS } from "./migrations.js";
import type { PasswordSeal } from "./seal.js";
import { checkSpec, entryNumber, type RpopStore } from "./store.js";
import { toEntry, type Row } from "./rows.js";
import { openStateFile } from "../../state/sqlite-open.js";

function migrate(db: Database.Database, seal: PasswordSeal): void {
  migrateSqlite(db, RPOP_MIGRATION_TABLE, RPOP_MIGRATIONS, "rpop", Date.now());
  // Another key than the stored passwords': refused. Then passwords stored in clear by a
  // version before sealing, sealed in one transaction.
  const rows = db
    .prepare<[], { id: number; password: string }>("SELECT id, password FROM rpop_entries")
    .all();
  seal.checkKeys(rows.map((r) => r.password));
  const clear = rows.filter((r) => !seal.isSealed(r.password));
  if (clear.length === 0) return;
  const update = db.prepare("UPDATE rpop_entries SET password = ? WHERE id = ? AND password = ?");
  db.transaction(() => {
    for (const r of clear) update.run(seal.seal(r.password), r.id, r.password);
  }).immediate();
  // The clear values must not linger in the WAL's older frames: fold it into the file (whose
  // freed space secure_delete has zeroed) and empty it. Best effort: a reader holding an old
  // snapshot keeps the WAL until it lets go, and the next checkpoint finishes the job.
  db.pragma("wal_checkpoint(TRUNCATE)");
}

/** A synchronous better-sqlite3 call as a promise that rejects (not throws) on failure. */
function later<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e instanceof Error ? e : new Error(String(e)));
  }
}

/** Opens (and migrates) the store; passwords are sealed with `seal`. */
export function openSqliteRpopStore(path: string, clock: Clock, seal: PasswordSeal): RpopStore {
  // A removed entry's or a migrated row's old bytes are zeroed, not left in free pages.
  const db = openStateFile(path, { what: "rpop", foreignKeys: true, secureDelete: true }, (d) =>
    migrate(d, seal),
  );
  const q = {
    insert: db.prepare(
      `INSERT INTO rpop_entries (account, host, port, tls, tls_verify, user, password, apop, keep, interval_seconds, created_at)
       VALUES (@account, @host, @port, @tls, @tls_verify, @user, @password, @apop, @keep, @interval_seconds, @created_at)`,
    ),
    get: db.prepare<[number], Row>("SELECT * FROM rpop_entries WHERE id = ?"),
    remove: db.prepare("DELETE FROM rpop_entries WHERE id = ? AND account = ?"),
    removeUids: db.prepare("DELETE FROM rpop_uids WHERE entry = ?"),
    all: db.prepare<[], Row>("SELECT * FROM rpop_entries ORDER BY id"),
    of: db.prepare<[string], Row>("SELECT * FROM rpop_entries WHERE account = ? ORDER BY id"),
    seen: db.prepare<[number], { uid: string }>("SELECT uid FROM rpop_uids WHERE entry = ?"),
    remember: db.prepare("INSERT OR REPLACE INTO rpop_uids (entry, uid, seen_at) VALUES (?, ?, ?)"),
    forget: db.prepare("DELETE FROM rpop_uids WHERE entry = ? AND uid = ?"),
    // Inserted only for an existing entry; taken over only from the same holder or when expired.
    claim: db.prepare(
      `INSERT INTO rpop_claims (entry, holder, until)
       SELECT @entry, @holder, @until WHERE EXISTS (SELECT 1 FROM rpop_entries WHERE id = @entry)
       ON CONFLICT (entry) DO UPDATE SET holder = excluded.holder, until = excluded.until
       WHERE rpop_claims.holder = excluded.holder OR rpop_claims.until <= @at`,
    ),
    release: db.prepare("DELETE FROM rpop_claims WHERE entry = ? AND holder = ?"),
  };
  const removeTx = db.transaction((id: number, account: string): boolean => {
    q.removeUids.run(id);
    return q.remove.run(id, account).changes > 0;
  });
  const pruneTx = db.transaction((id: number, gone: string[]) => {
    for (const uid of gone) q.forget.run(id, uid);
  });
  let open = true;
  return {
    add: (account, spec) =>
      later(() => {
        checkSpec(spec);
        const r = q.insert.run({
          account: account.toLowerCase(),
          host: spec.host.toLowerCase(),
          port: spec.port,
          tls: spec.tls,
          tls_verify: spec.tlsVerify ? 1 : 0,
          user: spec.user,
          password: seal.seal(spec.password),
          apop: spec.apop ? 1 : 0,
          keep: spec.keep ? 1 : 0,
          interval_seconds: spec.intervalSeconds,
          created_at: clock.now(),
        });
        return toEntry(q.get.get(Number(r.lastInsertRowid))!, seal);
      }),
    remove: (account, id) =>
      later(() => {
        const n = entryNumber(id);
        return n === null ? false : removeTx(n, account.toLowerCase());
      }),
    list: (account) =>
      later(() =>
        (account === undefined ? q.all.all() : q.of.all(account.toLowerCase())).map((r) => toEntry(r, seal)),
      ),
    seen: (id) =>
      later(() => {
        const n = entryNumber(id);
        return new Set(n === null ? [] : q.seen.all(n).map((r) => r.uid));
      }),
    remember: (id, uid, at) =>
      later(() => {
        const n = entryNumber(id);
        // An entry removed while its poll ran: nothing to remember it for.
        if (n !== null && q.get.get(n) !== undefined) q.remember.run(n, uid, at);
      }),
    prune: (id, present) =>
      later(() => {
        const n = entryNumber(id);
        if (n === null) return 0;
        const gone = q.seen
          .all(n)
          .map((r) => r.uid)
          .filter((u) => !present.has(u));
        pruneTx(n, gone);
        return gone.length;
      }),
    claim: (id, holder, at, until) =>
      later(() => {
        const n = entryNumber(id);
        return n !== null && q.claim.run({ entry: n, holder, until, at }).changes > 0;
      }),
    release: (id, holder) =>
      later(() => {
        const n = entryNumber(id);
        if (n !== null) q.release.run(n, holder);
      }),
    close() {
      if (open) {
        open = false;
        db.close();
      }
      return Promise.resolve();
    },
  };
}
