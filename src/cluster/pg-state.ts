// The cluster state on PostgreSQL, for members on many machines: the contract of
// test/contracts/cluster-state.ts, the migrations of src/cluster/migrations.ts. Lease acquisition
// is one transaction that locks the account's lease row (created first if missing, so two first
// takers meet on the same row): of two nodes racing, the second waits for the first to commit,
// then sees the lease held. A takeover raises the token in the same UPDATE that changes the
// owner, and renew/release name the token they hold, so a fenced-off owner's writes match no
// row. Heartbeats and renewals are single statements that never move a time backwards.
// subscribe() is LISTEN on channel mailyard_state, fed by the triggers of migration 2; after a
// lost connection every kind is reported changed (key null), since notifications were missed.
import type { Clock } from "../world/clock.js";
import { migratePg, openingOn } from "../state/pg-migrate.js";
import type { PgHandle } from "../state/pg.js";
import { CHANGE_CHANNEL, CLUSTER_MIGRATION_TABLE, CLUSTER_MIGRATIONS } from "./migrations.js";
import {
  account,
  count,
  member,
  settingValue,
  spoolArgs,
  text,
  time,
  toTakeover,
  ttl,
  type TakeoverRow,
} from "./state-args.js";
import {
  CHANGE_KINDS,
  type ChangeKind,
  type ClusterState,
  type Lease,
  type LeaseHeld,
  type SpoolEpoch,
  type StateChange,
} from "./state.js";
import { toLease, toMember, type LeaseRow, type MemberRow } from "./rows.js";

/** Applies the cluster state's pending migrations; returns the versions applied. */
export function migratePostgresClusterState(pg: PgHandle, clock: Clock): Promise<number[]> {
  return migratePg(pg, CLUSTER_MIGRATION_TABLE, CLUSTER_MIGRATIONS, "cluster state", clock.now());
}

/** "kind:key" from the triggers; anything else is not ours and ignored. */
export function parseChange(payload: string): StateChange | null {
  const i = payload.indexOf(":");
  const kind = payload.slice(0, i) as ChangeKind;
  if (i < 0 || !CHANGE_KINDS.includes(kind)) return null;
  return { kind, key: payload.slice(i + 1) };
}

/** Opens (and migrates) the cluster state on a pool; close() gives this share of the pool back. */
export async function openPostgresClusterState(pg: PgHandle, clock: Clock): Promise<ClusterState> {
  await openingOn(pg, () => migratePostgresClusterState(pg, clock));
  let closed = false;
  const unsubscribes = new Set<() => void>();
  // Checks run inside, so a bad argument or a closed state is a rejection, never a throw.
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new Error("cluster state is closed");
    return fn();
  };

  const acquire = (key: string, nodeId: string, now: number, ttlMs: number): Promise<Lease | LeaseHeld> =>
    pg.tx(async (q) => {
      const expiresAt = now + ttlMs;
      // A first taker creates the row free (token 0); racers then all queue on its row lock.
      await q.run(
        "INSERT INTO cluster_leases (account, owner, token, expires_at) VALUES ($1, NULL, 0, 0) ON CONFLICT (account) DO NOTHING",
        [key],
      );
      const [row] = await q.query<LeaseRow>("SELECT * FROM cluster_leases WHERE account = $1 FOR UPDATE", [
        key,
      ]);
      if (row === undefined) throw new Error(`lease row for ${key} vanished inside its transaction`);
      if (row.owner !== null && row.expires_at > now) {
        if (row.owner !== nodeId) return { heldBy: row.owner, expiresAt: row.expires_at };
        const [kept] = await q.query<{ expires_at: number }>(
          "UPDATE cluster_leases SET expires_at = GREATEST(expires_at, $2) WHERE account = $1 RETURNING expires_at",
          [key, expiresAt],
        );
        return { account: key, owner: nodeId, token: row.token, expiresAt: kept?.expires_at ?? expiresAt };
      }
      // Free or expired: a new holding, so a new token (an expired owner's writes must fail).
      const [taken] = await q.query<{ token: number }>(
        "UPDATE cluster_leases SET owner = $2, token = token + 1, expires_at = $3 WHERE account = $1 RETURNING token",
        [key, nodeId, expiresAt],
      );
      return { account: key, owner: nodeId, token: taken!.token, expiresAt };
    });

  const takeSpool = (
    node: string,
    by: string,
    expected: number,
    promoted: string[],
    now: number,
  ): Promise<SpoolEpoch | null> =>
    pg.tx(async (q) => {
      // Created at token 0 first, so racers all queue on one row lock.
      await q.run(
        "INSERT INTO cluster_spool_epochs (node, holder, token, at) VALUES ($1, $1, 0, 0) ON CONFLICT (node) DO NOTHING",
        [node],
      );
      const [row] = await q.query<{ token: number }>(
        "SELECT token FROM cluster_spool_epochs WHERE node = $1 FOR UPDATE",
        [node],
      );
      if (row === undefined || row.token !== expected) return null;
      const token = row.token + 1;
      await q.run("UPDATE cluster_spool_epochs SET holder = $2, token = $3, at = $4 WHERE node = $1", [
        node,
        by,
        token,
        now,
      ]);
      if (promoted.length > 0)
        await q.run(
          "INSERT INTO cluster_spool_takeovers (node, token, by_node, at, ids) VALUES ($1, $2, $3, $4, $5)",
          [node, token, by, now, JSON.stringify(promoted)],
        );
      return { node, holder: by, token, at: now };
    });

  return {
    spoolEpoch: (node) =>
      call(async () => {
        const [row] = await pg.query<{ node: string; holder: string; token: number; at: number }>(
          "SELECT node, holder, token, at FROM cluster_spool_epochs WHERE node = $1 AND token > 0",
          [text("node", node)],
        );
        return row ?? null;
      }),

    takeSpool: (node, by, expected, promoted, now) =>
      call(() => takeSpool(...spoolArgs(node, by, expected, promoted, now))),

    spoolTakeovers: (node, after) =>
      call(async () =>
        (
          await pg.query<TakeoverRow>(
            "SELECT * FROM cluster_spool_takeovers WHERE node = $1 AND token > $2 ORDER BY token",
            [text("node", node), count("after", after)],
          )
        ).map(toTakeover),
      ),

    register: (m) =>
      call(async () => {
        const c = member(m);
        await pg.run(
          `INSERT INTO cluster_members (id, role, smtp, submissions, http, channel, submit_messages, started_at, last_heartbeat, queue_size, "left")
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, FALSE)
           ON CONFLICT (id) DO UPDATE SET role = excluded.role, smtp = excluded.smtp, submissions = excluded.submissions,
             http = excluded.http, channel = excluded.channel, submit_messages = excluded.submit_messages, started_at = excluded.started_at,
             last_heartbeat = excluded.last_heartbeat, queue_size = 0, "left" = FALSE`,
          [
            c.id,
            c.role,
            c.smtp,
            c.submissions,
            c.http,
            c.channel,
            c.submitMessages,
            c.startedAt,
            clock.now(),
          ],
        );
      }),

    heartbeat: (id, at, queueSize) =>
      call(
        async () =>
          (await pg.run(
            `UPDATE cluster_members SET last_heartbeat = GREATEST(last_heartbeat, $1), queue_size = $2
             WHERE id = $3 AND NOT "left"`,
            [time("at", at), count("queueSize", queueSize), text("id", id)],
          )) > 0,
      ),

    leave: (id) =>
      call(async () => {
        await pg.run(`UPDATE cluster_members SET "left" = TRUE WHERE id = $1`, [text("id", id)]);
      }),

    members: () =>
      call(async () =>
        (await pg.query<MemberRow>("SELECT * FROM cluster_members ORDER BY id")).map(toMember),
      ),

    getSetting: (key) =>
      call(
        async () =>
          (
            await pg.query<{ value: string }>("SELECT value FROM cluster_settings WHERE key = $1", [
              text("key", key),
            ])
          )[0]?.value ?? null,
      ),

    setSetting: (key, value) =>
      call(async () => {
        const k = text("key", key);
        const v = settingValue(value);
        if (v === null) await pg.run("DELETE FROM cluster_settings WHERE key = $1", [k]);
        else
          await pg.run(
            "INSERT INTO cluster_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [k, v],
          );
      }),

    listSettings: () =>
      call(() =>
        pg.query<{ key: string; value: string }>("SELECT key, value FROM cluster_settings ORDER BY key"),
      ),

    homeOf: (address) =>
      call(
        async () =>
          (
            await pg.query<{ node: string }>("SELECT node FROM cluster_homes WHERE account = $1", [
              account(address),
            ])
          )[0]?.node ?? null,
      ),

    setHome: (address, nodeId) =>
      call(async () => {
        await pg.run(
          "INSERT INTO cluster_homes (account, node) VALUES ($1, $2) ON CONFLICT (account) DO UPDATE SET node = excluded.node",
          [account(address), text("nodeId", nodeId)],
        );
      }),

    clearHome: (address) =>
      call(async () => {
        await pg.run("DELETE FROM cluster_homes WHERE account = $1", [account(address)]);
      }),

    homes: () =>
      call(() =>
        pg.query<{ account: string; node: string }>(
          "SELECT account, node FROM cluster_homes ORDER BY account",
        ),
      ),

    acquireLease: (address, nodeId, now, ttlMs) =>
      call(() => acquire(account(address), text("nodeId", nodeId), time("now", now), ttl(ttlMs))),

    renewLease: (lease, now, ttlMs) =>
      call(async () => {
        const key = account(lease.account);
        const [row] = await pg.query<{ expires_at: number }>(
          `UPDATE cluster_leases SET expires_at = GREATEST(expires_at, $1)
           WHERE account = $2 AND owner = $3 AND token = $4 RETURNING expires_at`,
          [time("now", now) + ttl(ttlMs), key, text("owner", lease.owner), lease.token],
        );
        return row === undefined ? null : { ...lease, account: key, expiresAt: row.expires_at };
      }),

    releaseLease: (lease) =>
      call(
        async () =>
          (await pg.run(
            "UPDATE cluster_leases SET owner = NULL, expires_at = 0 WHERE account = $1 AND owner = $2 AND token = $3",
            [account(lease.account), text("owner", lease.owner), lease.token],
          )) > 0,
      ),

    leaseOf: (address, now) =>
      call(async () => {
        const [row] = await pg.query<LeaseRow>(
          "SELECT * FROM cluster_leases WHERE account = $1 AND owner IS NOT NULL AND expires_at > $2",
          [account(address), time("now", now)],
        );
        return row === undefined ? null : toLease(row);
      }),

    leases: (now) =>
      call(async () =>
        (
          await pg.query<LeaseRow>(
            "SELECT * FROM cluster_leases WHERE owner IS NOT NULL AND expires_at > $1 ORDER BY account",
            [time("now", now)],
          )
        ).map(toLease),
      ),

    subscribe(fn) {
      if (closed) throw new Error("cluster state is closed");
      const off = pg.listen(CHANGE_CHANNEL, (payload) => {
        if (payload === null) {
          for (const kind of CHANGE_KINDS) fn({ kind, key: null });
          return;
        }
        const change = parseChange(payload);
        if (change !== null) fn(change);
      });
      unsubscribes.add(off);
      return () => {
        off();
        unsubscribes.delete(off);
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const off of unsubscribes) off();
      await pg.close();
    },
  };
}
