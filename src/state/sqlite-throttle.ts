// The login throttle's counts (throttle.ts ThrottleRows) in the SQLite state file, beside the
// directory and the cluster state, so every process of one machine counts into one table. WAL
// mode and a busy timeout like the other stores; each failure is read and written in one
// IMMEDIATE transaction, so two processes failing at once both count.
import type { Clock } from "../world/clock.js";
import { openStateFile } from "./sqlite-open.js";
import { migrateSqlite } from "./sqlite-migrate.js";
import { lockMs, type ThrottleRows } from "./throttle.js";
import { THROTTLE_MIGRATION_TABLE, THROTTLE_MIGRATIONS } from "./throttle-migrations.js";

export function openSqliteThrottleRows(path: string, clock: Clock): ThrottleRows {
  const db = openStateFile(path, { what: "throttle" }, (d) =>
    migrateSqlite(d, THROTTLE_MIGRATION_TABLE, THROTTLE_MIGRATIONS, "throttle", clock.now()),
  );

  const get = db.prepare<[string], { failures: number; locked_until: number; last: number }>(
    "SELECT failures, locked_until, last FROM login_failures WHERE key = ?",
  );
  const put = db.prepare(
    "INSERT INTO login_failures (key, failures, locked_until, last) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until, last = excluded.last",
  );
  const clear = db.prepare("DELETE FROM login_failures WHERE key = ?");
  const forget = db.prepare("DELETE FROM login_failures WHERE last < ? AND locked_until <= ?");
  const trim = db.prepare(
    "DELETE FROM login_failures WHERE key NOT IN (SELECT key FROM login_failures ORDER BY last DESC LIMIT ?)",
  );
  const fail = db.transaction((key: string, f: Parameters<ThrottleRows["fail"]>[1]): void => {
    const r = get.get(key);
    const stale = r === undefined || (r.last < f.forgetBefore && r.locked_until <= f.now);
    const n = stale ? 1 : r.failures + 1;
    const lock = lockMs(n, f);
    put.run(key, n, lock > 0 ? f.now + lock : (r?.locked_until ?? 0), f.now);
  });

  let closed = false;
  // better-sqlite3 is synchronous; the interface is async for the PostgreSQL adapter.
  return {
    lockedUntil: (keys) => Promise.resolve(Math.max(0, ...keys.map((k) => get.get(k)?.locked_until ?? 0))),
    fail: (key, f) => Promise.resolve(fail.immediate(key, f)),
    clear: (keys) => {
      for (const k of keys) clear.run(k);
      return Promise.resolve();
    },
    prune: (forgetBefore, now, keep) => {
      forget.run(forgetBefore, now);
      trim.run(keep);
      return Promise.resolve();
    },
    close() {
      if (!closed) db.close();
      closed = true;
      return Promise.resolve();
    },
  };
}
