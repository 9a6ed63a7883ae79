// The administrators in the SQLite state file (better-sqlite3), in WAL mode with a busy timeout
// like the directory, migrating inside an IMMEDIATE transaction so two processes opening a fresh
// file at once do not both migrate. The CLI writes it while nodes run; nodes read it at each
// login, so a new admin or password takes effect at once, with nothing cached.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { hashPassword, verifyPassword } from "../../directory/password.js";
import type { Clock } from "../../world/clock.js";
import { ADMIN_MIGRATIONS } from "./users-migrations.js";
import {
  AdminUserError,
  checkAdminPassword,
  normalizeAdminName,
  type AdminUser,
  type AdminUserStore,
} from "./users.js";

const BUSY_TIMEOUT_MS = 5000;

interface Row {
  name: string;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

const toUser = (r: Row): AdminUser => ({ name: r.name, createdAt: r.created_at, updatedAt: r.updated_at });

function migrate(db: Database.Database, now: number): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS admin_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
  );
  const run = db.transaction(() => {
    const row = db.prepare("SELECT MAX(version) AS v FROM admin_schema_migrations").get() as {
      v: number | null;
    };
    const current = row.v ?? 0;
    const latest = ADMIN_MIGRATIONS[ADMIN_MIGRATIONS.length - 1]?.version ?? 0;
    if (current > latest)
      throw new Error(`admin schema version ${current} is newer than this program (${latest})`);
    for (const m of ADMIN_MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sqlite);
      db.prepare("INSERT INTO admin_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        m.version,
        m.name,
        now,
      );
    }
  });
  run.immediate();
}

export function openSqliteAdminUsers(path: string, clock: Clock): AdminUserStore {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  db.pragma("journal_mode = WAL");
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma("synchronous = NORMAL");
  migrate(db, clock.now());

  const get = db.prepare<[string], Row>("SELECT * FROM admin_users WHERE name = ?");
  const insert = db.prepare(
    "INSERT INTO admin_users (name, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)",
  );
  const update = db.prepare("UPDATE admin_users SET password_hash = ?, updated_at = ? WHERE name = ?");
  const del = db.prepare("DELETE FROM admin_users WHERE name = ?");
  const all = db.prepare<[], Row>("SELECT * FROM admin_users ORDER BY name");
  let closed = false;

  return {
    async add(name, password) {
      const n = normalizeAdminName(name);
      checkAdminPassword(password);
      const hash = await hashPassword(password);
      const now = clock.now();
      try {
        insert.run(n, hash, now, now);
      } catch (e) {
        if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY")
          throw new AdminUserError("exists", `admin user ${n} already exists`);
        throw e;
      }
      return { name: n, createdAt: now, updatedAt: now };
    },
    async setPassword(name, password) {
      const n = normalizeAdminName(name);
      checkAdminPassword(password);
      const hash = await hashPassword(password);
      if (update.run(hash, clock.now(), n).changes === 0)
        throw new AdminUserError("not-found", `no admin user ${n}`);
    },
    remove(name) {
      const n = normalizeAdminName(name);
      if (del.run(n).changes === 0)
        return Promise.reject(new AdminUserError("not-found", `no admin user ${n}`));
      return Promise.resolve();
    },
    list: () => Promise.resolve(all.all().map(toUser)),
    async verify(name, password) {
      let row: Row | undefined;
      try {
        row = get.get(normalizeAdminName(name));
      } catch (e) {
        if (!(e instanceof AdminUserError)) throw e;
      }
      // Unknown or malformed names cost the same scrypt work as a wrong password.
      const good = await verifyPassword(password.slice(0, 1024), row?.password_hash ?? null);
      return good && row !== undefined ? toUser(row) : null;
    },
    close() {
      if (!closed) db.close();
      closed = true;
      return Promise.resolve();
    },
  };
}
