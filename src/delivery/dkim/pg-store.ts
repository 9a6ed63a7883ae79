// DKIM keys on PostgreSQL (state.url = postgres://…): the same table as the SQLite adapter,
// with its own migrations table, so every frontend across machines signs with the same keys.
import type { PgHandle } from "../../state/pg.js";
import { migratePg, openingOn } from "../../state/pg-migrate.js";
import { DKIM_MIGRATION_TABLE, DKIM_MIGRATIONS } from "./migrations.js";
import { keyOfRow, type DkimKeyRow, type DkimKeyStore } from "./store.js";

/** Applies pending DKIM-store migrations; the versions applied. */
export const migratePostgresDkim = (pg: PgHandle, now: number): Promise<number[]> =>
  migratePg(pg, DKIM_MIGRATION_TABLE, DKIM_MIGRATIONS, "dkim", now);

/** Opens (and migrates) the store; it owns `pg` and closes it. */
export async function openPostgresDkimStore(pg: PgHandle, now: () => number): Promise<DkimKeyStore> {
  await openingOn(pg, () => migratePostgresDkim(pg, now()));
  return {
    list: async () =>
      (await pg.query<DkimKeyRow>("SELECT * FROM dkim_keys ORDER BY domain, selector")).map(keyOfRow),
    keysOf: async (domain) =>
      (
        await pg.query<DkimKeyRow>(
          "SELECT * FROM dkim_keys WHERE domain = $1 ORDER BY created_at DESC, selector",
          [domain.toLowerCase()],
        )
      ).map(keyOfRow),
    add: async (k) =>
      (
        await pg.query<{ domain: string }>(
          "INSERT INTO dkim_keys (domain, selector, algorithm, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING domain",
          [k.domain, k.selector, k.algorithm, k.privateKey, k.publicKey, k.createdAt],
        )
      ).length === 1,
    remove: async (domain, selector) =>
      (
        await pg.query<{ domain: string }>(
          selector === undefined
            ? "DELETE FROM dkim_keys WHERE domain = $1 RETURNING domain"
            : "DELETE FROM dkim_keys WHERE domain = $1 AND selector = $2 RETURNING domain",
          selector === undefined ? [domain.toLowerCase()] : [domain.toLowerCase(), selector.toLowerCase()],
        )
      ).length,
    close: () => pg.close(),
  };
}
