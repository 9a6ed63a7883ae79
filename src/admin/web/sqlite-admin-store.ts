// The WebAdmin's administrators and sessions in the SQLite state file (better-sqlite3), in WAL
// mode with a busy timeout like the directory, migrating inside an IMMEDIATE transaction so two
// processes opening a fresh file at once do not both migrate. The CLI writes it while nodes
// run; nodes read it at each login and request, so a new admin or password takes effect at
// once, with nothing cached.
import type Database from "better-sqlite3";
import { migrateSqlite } from "../../state/sqlite-migrate.js";
import type { Clock } from "../../world/clock.js";
import type { AdminStore } from "./admin-store.js";
import type { Session, SessionRows } from "./sessions.js";
import { ADMIN_MIGRATION_TABLE, ADMIN_MIGRATIONS } from "./users-migrations.js";
import { adminUsersOver, type AdminUserRow } from "./users.js";
import { openStateFile } from "../../state/sqlite-open.js";

interface UserRow {
  name: string;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

interface SessionRow {
  user_name: string;
  csrf: string;
  created_at: number;
  last_seen: number;
}

const toRow = (r: UserRow): AdminUserRow => ({
  name: r.name,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});
const toSession = (r: SessionRow): Session => ({
  user: r.user_name,
  csrf: r.csrf,
  createdAt: r.created_at,
  lastSeen: r.last_seen,
});

function migrate(db: Database.Database, now: number): void {
  migrateSqlite(db, ADMIN_MIGRATION_TABLE, ADMIN_MIGRATIONS, "admin", now);
}

export function openSqliteAdminStore(path: string, clock: Clock): AdminStore {
  const db = openStateFile(path, { what: "administrators" }, (d) => migrate(d, clock.now()));

  const get = db.prepare<[string], UserRow>("SELECT * FROM admin_users WHERE name = ?");
  const insert = db.prepare(
    "INSERT INTO admin_users (name, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)",
  );
  const update = db.prepare("UPDATE admin_users SET password_hash = ?, updated_at = ? WHERE name = ?");
  const del = db.prepare("DELETE FROM admin_users WHERE name = ?");
  const all = db.prepare<[], UserRow>("SELECT * FROM admin_users ORDER BY name");
  const endSessionsOf = db.prepare("DELETE FROM admin_sessions WHERE user_name = ?");
  // The user's sessions end in the same transaction as the change that ends them.
  const setHash = db.transaction((n: string, hash: string, at: number): number => {
    const changes = update.run(hash, at, n).changes;
    endSessionsOf.run(n);
    return changes;
  });
  const removeUser = db.transaction((n: string): number => {
    const changes = del.run(n).changes;
    endSessionsOf.run(n);
    return changes;
  });

  const users = adminUsersOver(
    {
      insert: (r) => {
        try {
          insert.run(r.name, r.passwordHash, r.createdAt, r.updatedAt);
          return Promise.resolve(true);
        } catch (e) {
          if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") return Promise.resolve(false);
          throw e;
        }
      },
      setHash: (n, hash, at) => Promise.resolve(setHash(n, hash, at)),
      remove: (n) => Promise.resolve(removeUser(n)),
      get: (n) => {
        const r = get.get(n);
        return Promise.resolve(r === undefined ? null : toRow(r));
      },
      all: () => Promise.resolve(all.all().map(toRow)),
    },
    () => clock.now(),
  );

  const sInsert = db.prepare(
    "INSERT INTO admin_sessions (key, user_name, csrf, created_at, last_seen) VALUES (?, ?, ?, ?, ?)",
  );
  const sGet = db.prepare<[string], SessionRow>(
    "SELECT user_name, csrf, created_at, last_seen FROM admin_sessions WHERE key = ?",
  );
  const sTouch = db.prepare("UPDATE admin_sessions SET last_seen = MAX(last_seen, ?) WHERE key = ?");
  const sRemove = db.prepare("DELETE FROM admin_sessions WHERE key = ?");
  const sSweep = db.prepare("DELETE FROM admin_sessions WHERE last_seen < ? OR created_at < ?");
  const sTrim = db.prepare(
    "DELETE FROM admin_sessions WHERE key NOT IN (SELECT key FROM admin_sessions ORDER BY last_seen DESC LIMIT ?)",
  );
  const sCount = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM admin_sessions");
  // better-sqlite3 is synchronous; the interface is async for the PostgreSQL adapter.
  const exec =
    <A extends unknown[]>(st: Database.Statement<A>) =>
    (...args: A): Promise<void> => {
      st.run(...args);
      return Promise.resolve();
    };

  const sessions: SessionRows = {
    insert: (key, s) => exec(sInsert)(key, s.user, s.csrf, s.createdAt, s.lastSeen),
    get: (key) => {
      const r = sGet.get(key);
      return Promise.resolve(r === undefined ? null : toSession(r));
    },
    touch: (key, at) => exec(sTouch)(at, key),
    remove: (key) => exec(sRemove)(key),
    sweep: (idleBefore, createdBefore) => exec(sSweep)(idleBefore, createdBefore),
    trim: (keep) => exec(sTrim)(keep),
    count: () => Promise.resolve(sCount.get()?.n ?? 0),
  };

  let closed = false;
  return {
    users,
    sessions,
    close() {
      if (!closed) db.close();
      closed = true;
      return Promise.resolve();
    },
  };
}
