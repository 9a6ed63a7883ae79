// The login throttle's counts (throttle.ts ThrottleRows) on PostgreSQL (state.url = postgres://…),
// so every member of a cluster across machines counts into one table: the same table and
// migration versions as the SQLite adapter (sqlite-throttle.ts), in throttle_schema_migrations.
import type { Clock } from "../world/clock.js";
import type { PgHandle } from "./pg.js";
import { migratePg, openingOn } from "./pg-migrate.js";
import { lockMs, type ThrottleRows } from "./throttle.js";
import { THROTTLE_MIGRATION_TABLE, THROTTLE_MIGRATIONS } from "./throttle-migrations.js";

/** Applies pending throttle migrations; the versions applied. */
export const migratePostgresThrottle = (pg: PgHandle, clock: Clock): Promise<number[]> =>
  migratePg(pg, THROTTLE_MIGRATION_TABLE, THROTTLE_MIGRATIONS, "throttle", clock.now());

/** Opens (and migrates) the rows; they own `pg` and close it. */
export async function openPostgresThrottleRows(pg: PgHandle, clock: Clock): Promise<ThrottleRows> {
  await openingOn(pg, () => migratePostgresThrottle(pg, clock));
  return {
    async lockedUntil(keys) {
      const [r] = await pg.query<{ t: number | null }>(
        "SELECT MAX(locked_until) AS t FROM login_failures WHERE key = ANY($1::text[])",
        [keys],
      );
      return Number(r?.t ?? 0);
    },
    // One transaction: the upsert locks the row, so failures counted at once on two members add up.
    fail: (key, f) =>
      pg.tx(async (q) => {
        const [r] = await q.query<{ failures: number }>(
          `INSERT INTO login_failures (key, failures, locked_until, last) VALUES ($1, 1, 0, $2)
           ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN login_failures.last < $3 AND login_failures.locked_until <= $2
                             THEN 1 ELSE login_failures.failures + 1 END,
             last = $2
           RETURNING failures`,
          [key, f.now, f.forgetBefore],
        );
        const lock = lockMs(r?.failures ?? 1, f);
        if (lock > 0)
          await q.run("UPDATE login_failures SET locked_until = $1 WHERE key = $2", [f.now + lock, key]);
      }),
    async clear(keys) {
      await pg.run("DELETE FROM login_failures WHERE key = ANY($1::text[])", [keys]);
    },
    async prune(forgetBefore, now, keep) {
      await pg.run("DELETE FROM login_failures WHERE last < $1 AND locked_until <= $2", [forgetBefore, now]);
      await pg.run(
        "DELETE FROM login_failures WHERE key NOT IN (SELECT key FROM login_failures ORDER BY last DESC LIMIT $1)",
        [keep],
      );
    },
    close: () => pg.close(),
  };
}
