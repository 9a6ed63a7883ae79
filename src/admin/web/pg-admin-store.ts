// The WebAdmin's administrators and sessions on PostgreSQL (state.url = postgres://…), so every
// member of a cluster across machines knows the same administrators and honours a session
// opened on any of them: the same tables and migration versions as the SQLite adapter
// (sqlite-admin-store.ts), in admin_schema_migrations.
import type { PgHandle } from "../../state/pg.js";
import { migratePg, openingOn } from "../../state/pg-migrate.js";
import type { Clock } from "../../world/clock.js";
import type { AdminStore } from "./admin-store.js";
import type { SessionRows } from "./sessions.js";
import { ADMIN_MIGRATION_TABLE, ADMIN_MIGRATIONS } from "./users-migrations.js";
import { adminUsersOver, type AdminUserRow } from "./users.js";

interface UserRow {
  name: string;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

const UNIQUE_VIOLATION = "23505";
const toRow = (r: UserRow): AdminUserRow => ({
  name: r.name,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Applies pending admin migrations; the versions applied. */
export const migratePostgresAdmin = (pg: PgHandle, clock: Clock): Promise<number[]> =>
  migratePg(pg, ADMIN_MIGRATION_TABLE, ADMIN_MIGRATIONS, "admin", clock.now());

/** Opens (and migrates) the store; it owns `pg` and closes it. */
export async function openPostgresAdminStore(pg: PgHandle, clock: Clock): Promise<AdminStore> {
  await openingOn(pg, () => migratePostgresAdmin(pg, clock));
  const users = adminUsersOver(
    {
      async insert(r) {
        try {
          await pg.run(
            "INSERT INTO admin_users (name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4)",
            [r.name, r.passwordHash, r.createdAt, r.updatedAt],
          );
          return true;
        } catch (e) {
          if ((e as { code?: string }).code === UNIQUE_VIOLATION) return false;
          throw e;
        }
      },
      // The user's sessions end in the same transaction as the change that ends them.
      setHash: (n, hash, at) =>
        pg.tx(async (q) => {
          const c = await q.run(
            "UPDATE admin_users SET password_hash = $1, updated_at = $2 WHERE name = $3",
            [hash, at, n],
          );
          await q.run("DELETE FROM admin_sessions WHERE user_name = $1", [n]);
          return c;
        }),
      remove: (n) =>
        pg.tx(async (q) => {
          const c = await q.run("DELETE FROM admin_users WHERE name = $1", [n]);
          await q.run("DELETE FROM admin_sessions WHERE user_name = $1", [n]);
          return c;
        }),
      async get(n) {
        const [r] = await pg.query<UserRow>("SELECT * FROM admin_users WHERE name = $1", [n]);
        return r === undefined ? null : toRow(r);
      },
      all: async () => (await pg.query<UserRow>("SELECT * FROM admin_users ORDER BY name")).map(toRow),
    },
    () => clock.now(),
  );

  const sessions: SessionRows = {
    async insert(key, s) {
      await pg.run(
        "INSERT INTO admin_sessions (key, user_name, csrf, created_at, last_seen) VALUES ($1, $2, $3, $4, $5)",
        [key, s.user, s.csrf, s.createdAt, s.lastSeen],
      );
    },
    async get(key) {
      const [r] = await pg.query<{ user_name: string; csrf: string; created_at: number; last_seen: number }>(
        "SELECT user_name, csrf, created_at, last_seen FROM admin_sessions WHERE key = $1",
        [key],
      );
      return r === undefined
        ? null
        : { user: r.user_name, csrf: r.csrf, createdAt: r.created_at, lastSeen: r.last_seen };
    },
    async touch(key, at) {
      // GREATEST: two nodes touching at once never move last_seen backwards.
      await pg.run("UPDATE admin_sessions SET last_seen = GREATEST(last_seen, $1) WHERE key = $2", [at, key]);
    },
    async remove(key) {
      await pg.run("DELETE FROM admin_sessions WHERE key = $1", [key]);
    },
    async sweep(idleBefore, createdBefore) {
      await pg.run("DELETE FROM admin_sessions WHERE last_seen < $1 OR created_at < $2", [
        idleBefore,
        createdBefore,
      ]);
    },
    async trim(keep) {
      await pg.run(
        "DELETE FROM admin_sessions WHERE key NOT IN (SELECT key FROM admin_sessions ORDER BY last_seen DESC LIMIT $1)",
        [keep],
      );
    },
    async count() {
      const [r] = await pg.query<{ n: number }>("SELECT COUNT(*)::int AS n FROM admin_sessions");
      return r?.n ?? 0;
    },
  };

  return { users, sessions, close: () => pg.close() };
}
