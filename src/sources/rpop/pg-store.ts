// The RPOP store on PostgreSQL (state.url = postgres://…), so every member of a cluster across
// machines sees the same entries and UIDL memory: the same tables as the SQLite adapter
// (sqlite-store.ts), the same migration numbers (migrations.ts) in their own migrations table.
// A claim is one INSERT … ON CONFLICT … WHERE, atomic under concurrency as the contract
// (store.ts) asks: of two nodes racing to poll one entry, one wins.
import type { PgHandle } from "../../state/pg.js";
import { migratePg, openingOn } from "../../state/pg-migrate.js";
import type { Clock } from "../../world/clock.js";
import { PG_RPOP_MIGRATIONS, RPOP_MIGRATION_TABLE } from "./migrations.js";
import type { PasswordSeal } from "./seal.js";
import { checkSpec, entryNumber, type RpopStore } from "./store.js";
import { toEntry, type Row } from "./rows.js";

const COLUMNS = `id, account, host, port, tls, tls_verify, "user", password, apop, keep, interval_seconds, created_at`;

/** A foreign key refused the row: its entry was removed meanwhile. */
const entryGone = (e: unknown): boolean => (e as { code?: unknown }).code === "23503";

/** Applies the pending RPOP migrations; the versions applied (empty when up to date). */
export function migratePostgresRpop(pg: PgHandle, now: number): Promise<number[]> {
  return migratePg(pg, RPOP_MIGRATION_TABLE, PG_RPOP_MIGRATIONS, "rpop", now);
}

/**
 * Refuses a key other than the one the stored passwords were sealed with, then seals the
 * passwords stored in clear by a version before sealing. Compare-and-set per row: a
 * row changed meanwhile by another member is left to that member.
 */
async function sealClearRows(pg: PgHandle, seal: PasswordSeal): Promise<void> {
  const rows = await pg.query<{ id: number; password: string }>("SELECT id, password FROM rpop_entries");
  seal.checkKeys(rows.map((r) => r.password));
  for (const r of rows) {
    if (seal.isSealed(r.password)) continue;
    await pg.run("UPDATE rpop_entries SET password = $1 WHERE id = $2 AND password = $3", [
      seal.seal(r.password),
      r.id,
      r.password,
    ]);
  }
}

/** Opens (and migrates) the store; it owns `pg` and closes it. Passwords are sealed with `seal`. */
export async function openPostgresRpopStore(
  pg: PgHandle,
  clock: Clock,
  seal: PasswordSeal,
): Promise<RpopStore> {
  await openingOn(pg, async () => {
    await migratePostgresRpop(pg, clock.now());
    await sealClearRows(pg, seal);
  });
  return {
    async add(account, spec) {
      checkSpec(spec);
      const [row] = await pg.query<Row>(
        `INSERT INTO rpop_entries (account, host, port, tls, tls_verify, "user", password, apop, keep, interval_seconds, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
        [
          account.toLowerCase(),
          spec.host.toLowerCase(),
          spec.port,
          spec.tls,
          spec.tlsVerify,
          spec.user,
          seal.seal(spec.password),
          spec.apop,
          spec.keep,
          spec.intervalSeconds,
          clock.now(),
        ],
      );
      if (row === undefined) throw new Error("rpop: INSERT returned no row");
      return toEntry(row, seal);
    },
    async remove(account, id) {
      const n = entryNumber(id);
      if (n === null) return false;
      // Its UIDL memory and claim go with it (ON DELETE CASCADE).
      return (
        (await pg.run("DELETE FROM rpop_entries WHERE id = $1 AND account = $2", [
          n,
          account.toLowerCase(),
        ])) > 0
      );
    },
    async list(account) {
      const rows =
        account === undefined
          ? await pg.query<Row>(`SELECT ${COLUMNS} FROM rpop_entries ORDER BY id`)
          : await pg.query<Row>(`SELECT ${COLUMNS} FROM rpop_entries WHERE account = $1 ORDER BY id`, [
              account.toLowerCase(),
            ]);
      return rows.map((r) => toEntry(r, seal));
    },
    async seen(id) {
      const n = entryNumber(id);
      if (n === null) return new Set();
      const rows = await pg.query<{ uid: string }>("SELECT uid FROM rpop_uids WHERE entry = $1", [n]);
      return new Set(rows.map((r) => r.uid));
    },
    async remember(id, uid, at) {
      const n = entryNumber(id);
      if (n === null) return;
      try {
        // An entry removed while its poll ran: nothing to remember it for.
        await pg.run(
          `INSERT INTO rpop_uids (entry, uid, seen_at)
           SELECT $1::bigint, $2::text, $3::bigint WHERE EXISTS (SELECT 1 FROM rpop_entries WHERE id = $1::bigint)
           ON CONFLICT (entry, uid) DO UPDATE SET seen_at = excluded.seen_at`,
          [n, uid, at],
        );
      } catch (e) {
        // Removed between the EXISTS and the insert, by another connection.
        if (!entryGone(e)) throw e;
      }
    },
    async prune(id, present) {
      const n = entryNumber(id);
      if (n === null) return 0;
      return pg.run("DELETE FROM rpop_uids WHERE entry = $1 AND NOT (uid = ANY($2::text[]))", [
        n,
        [...present],
      ]);
    },
    async claim(id, holder, at, until) {
      const n = entryNumber(id);
      if (n === null) return false;
      try {
        // Inserted only for an existing entry; taken over only from the same holder or when
        // expired. A racing insert of the same entry waits for the first and then takes the
        // ON CONFLICT path, whose WHERE sees the winner's row: 0 rows, false.
        const rows = await pg.run(
          `INSERT INTO rpop_claims (entry, holder, until)
           SELECT $1::bigint, $2::text, $3::bigint WHERE EXISTS (SELECT 1 FROM rpop_entries WHERE id = $1::bigint)
           ON CONFLICT (entry) DO UPDATE SET holder = excluded.holder, until = excluded.until
           WHERE rpop_claims.holder = excluded.holder OR rpop_claims.until <= $4`,
          [n, holder, until, at],
        );
        return rows > 0;
      } catch (e) {
        if (entryGone(e)) return false;
        throw e;
      }
    },
    async release(id, holder) {
      const n = entryNumber(id);
      if (n !== null) await pg.run("DELETE FROM rpop_claims WHERE entry = $1 AND holder = $2", [n, holder]);
    },
    close: () => pg.close(),
  };
}
