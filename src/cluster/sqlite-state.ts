// The cluster state on the embedded SQLite file (better-sqlite3), shared by the processes of a
// cluster on one machine and possibly by the directory (same file): WAL with a busy timeout,
// its own migration table and cluster_-prefixed tables so neither schema touches the other.
// Lease changes run in IMMEDIATE transactions: the write lock is taken before the read, so two
// processes racing for one account serialize and exactly one sees it free.
import type Database from "better-sqlite3";
import { migrateSqlite } from "../state/sqlite-migrate.js";
import type { Clock, TimerHandle } from "../world/clock.js";
import {
  type ClusterState,
  type Lease,
  type LeaseHeld,
  type MemberInfo,
  type SpoolEpoch,
  type StateChange,
} from "./state.js";
import { toLease, toMember, type LeaseRow, type MemberRow } from "./rows.js";
import { CLUSTER_MIGRATION_TABLE, CLUSTER_MIGRATIONS } from "./migrations.js";
import {
  account,
  count,
  member,
  spoolArgs,
  text,
  time,
  toTakeover,
  ttl,
  type TakeoverRow,
} from "./state-args.js";
import { openStateFile } from "../state/sqlite-open.js";

// subscribe(): how often the change counters are read (one indexed read of four rows).
const CHANGE_POLL_MS = 250;

// The migrations live with their PostgreSQL twins; re-exported for the SQLite tests.
export { CLUSTER_MIGRATIONS };

function migrate(db: Database.Database, clock: Clock): void {
  migrateSqlite(db, CLUSTER_MIGRATION_TABLE, CLUSTER_MIGRATIONS, "cluster state", clock.now());
}

export function openSqliteClusterState(path: string, clock: Clock): ClusterState {
  // synchronous NORMAL (the default): an OS crash may lose the last heartbeats, and a lost
  // lease commit only means the account is taken again after it expires.
  const db = openStateFile(path, { what: "cluster state" }, (d) => migrate(d, clock));

  const q = {
    register: db.prepare(
      `INSERT INTO cluster_members (id, role, smtp, submissions, http, channel, submit_messages, started_at, last_heartbeat, queue_size, left)
       VALUES (@id, @role, @smtp, @submissions, @http, @channel, @submit_messages, @started_at, @now, 0, 0)
       ON CONFLICT (id) DO UPDATE SET role = excluded.role, smtp = excluded.smtp, submissions = excluded.submissions,
         http = excluded.http, channel = excluded.channel, submit_messages = excluded.submit_messages, started_at = excluded.started_at,
         last_heartbeat = excluded.last_heartbeat, queue_size = 0, left = 0`,
    ),
    heartbeat: db.prepare(
      "UPDATE cluster_members SET last_heartbeat = MAX(last_heartbeat, ?), queue_size = ? WHERE id = ? AND left = 0",
    ),
    leave: db.prepare("UPDATE cluster_members SET left = 1 WHERE id = ?"),
    members: db.prepare<[], MemberRow>("SELECT * FROM cluster_members ORDER BY id"),
    getSetting: db.prepare<[string], { value: string }>("SELECT value FROM cluster_settings WHERE key = ?"),
    setSetting: db.prepare(
      "INSERT INTO cluster_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    deleteSetting: db.prepare("DELETE FROM cluster_settings WHERE key = ?"),
    listSettings: db.prepare<[], { key: string; value: string }>(
      "SELECT key, value FROM cluster_settings ORDER BY key",
    ),
    homeOf: db.prepare<[string], { node: string }>("SELECT node FROM cluster_homes WHERE account = ?"),
    setHome: db.prepare(
      "INSERT INTO cluster_homes (account, node) VALUES (?, ?) ON CONFLICT (account) DO UPDATE SET node = excluded.node",
    ),
    clearHome: db.prepare("DELETE FROM cluster_homes WHERE account = ?"),
    homes: db.prepare<[], { account: string; node: string }>(
      "SELECT account, node FROM cluster_homes ORDER BY account",
    ),
    leaseRow: db.prepare<[string], LeaseRow>("SELECT * FROM cluster_leases WHERE account = ?"),
    insertLease: db.prepare(
      "INSERT INTO cluster_leases (account, owner, token, expires_at) VALUES (?, ?, 1, ?)",
    ),
    takeLease: db.prepare(
      "UPDATE cluster_leases SET owner = ?, token = token + 1, expires_at = ? WHERE account = ? AND token = ?",
    ),
    extendLease: db.prepare<[number, string, string, number], { expires_at: number }>(
      `UPDATE cluster_leases SET expires_at = MAX(expires_at, ?) WHERE account = ? AND owner = ? AND token = ?
       RETURNING expires_at`,
    ),
    releaseLease: db.prepare(
      "UPDATE cluster_leases SET owner = NULL, expires_at = 0 WHERE account = ? AND owner = ? AND token = ?",
    ),
    leaseOf: db.prepare<[string, number], LeaseRow & { owner: string }>(
      "SELECT * FROM cluster_leases WHERE account = ? AND owner IS NOT NULL AND expires_at > ?",
    ),
    leases: db.prepare<[number], LeaseRow & { owner: string }>(
      "SELECT * FROM cluster_leases WHERE owner IS NOT NULL AND expires_at > ? ORDER BY account",
    ),
  };

  const spool = {
    epoch: db.prepare<[string], { node: string; holder: string; token: number; at: number }>(
      "SELECT node, holder, token, at FROM cluster_spool_epochs WHERE node = ?",
    ),
    set: db.prepare(
      `INSERT INTO cluster_spool_epochs (node, holder, token, at) VALUES (?, ?, ?, ?)
       ON CONFLICT (node) DO UPDATE SET holder = excluded.holder, token = excluded.token, at = excluded.at`,
    ),
    record: db.prepare(
      "INSERT INTO cluster_spool_takeovers (node, token, by_node, at, ids) VALUES (?, ?, ?, ?, ?)",
    ),
    takeovers: db.prepare<[string, number], TakeoverRow>(
      "SELECT * FROM cluster_spool_takeovers WHERE node = ? AND token > ? ORDER BY token",
    ),
  };
  const takeSpool = db.transaction(
    (node: string, by: string, expected: number, promoted: string[], now: number): SpoolEpoch | null => {
      const token = spool.epoch.get(node)?.token ?? 0;
      if (token !== expected) return null;
      spool.set.run(node, by, token + 1, now);
      if (promoted.length > 0) spool.record.run(node, token + 1, by, now, JSON.stringify(promoted));
      return { node, holder: by, token: token + 1, at: now };
    },
  );

  const acquire = db.transaction(
    (key: string, nodeId: string, now: number, ttlMs: number): Lease | LeaseHeld => {
      const row = q.leaseRow.get(key);
      const expiresAt = now + ttlMs;
      if (row === undefined) {
        q.insertLease.run(key, nodeId, expiresAt);
        return { account: key, owner: nodeId, token: 1, expiresAt };
      }
      if (row.owner !== null && row.expires_at > now) {
        if (row.owner !== nodeId) return { heldBy: row.owner, expiresAt: row.expires_at };
        const kept = q.extendLease.get(expiresAt, key, nodeId, row.token);
        return { account: key, owner: nodeId, token: row.token, expiresAt: kept?.expires_at ?? expiresAt };
      }
      // Free or expired: a new holder, so a new token (an expired owner's writes must fail).
      if (q.takeLease.run(nodeId, expiresAt, key, row.token).changes !== 1) {
        throw new Error(`lease row for ${key} changed inside its transaction`);
      }
      return { account: key, owner: nodeId, token: row.token + 1, expiresAt };
    },
  );

  let closed = false;

  // Changes: the triggers of migration 2 count per kind; a poll on the injected clock reads the
  // counters and tells each subscriber which kinds moved since it last looked (the key is not
  // known here). A new subscriber has seen nothing, so its first poll reports every kind: the
  // baseline to read from, as the PostgreSQL adapter does once its LISTEN is in place.
  const subscribers = new Map<(c: StateChange) => void, Map<string, number>>();
  const readChanges = db.prepare<[], { kind: StateChange["kind"]; seq: number }>(
    "SELECT kind, seq FROM cluster_changes",
  );
  let pollTimer: TimerHandle | null = null;
  const poll = (): void => {
    pollTimer = null;
    if (closed || subscribers.size === 0) return;
    try {
      const rows = readChanges.all();
      for (const [fn, seen] of [...subscribers]) {
        for (const r of rows) {
          if (seen.get(r.kind) === r.seq) continue;
          seen.set(r.kind, r.seq);
          if (subscribers.has(fn)) fn({ kind: r.kind, key: null });
        }
      }
    } catch {
      // Busy or failing file: the next poll reads the counters again; nothing is lost.
    }
    pollTimer = clock.setTimeout(poll, CHANGE_POLL_MS);
  };

  // better-sqlite3 is synchronous; the wrappers keep the contract uniform with an async
  // adapter and turn synchronous throws into rejections.
  const run = <T>(fn: () => T): Promise<T> => {
    try {
      if (closed) throw new Error("cluster state is closed");
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  };

  return {
    register: (m: MemberInfo) =>
      run(() => {
        const c = member(m);
        q.register.run({
          id: c.id,
          role: c.role,
          smtp: c.smtp,
          submissions: c.submissions,
          http: c.http,
          channel: c.channel,
          submit_messages: c.submitMessages,
          started_at: c.startedAt,
          now: clock.now(),
        });
      }),

    heartbeat: (id, at, queueSize) =>
      run(() => {
        if (!Number.isSafeInteger(queueSize) || queueSize < 0) throw new TypeError("queueSize must be >= 0");
        return q.heartbeat.run(time("at", at), queueSize, text("id", id)).changes > 0;
      }),

    leave: (id) =>
      run(() => {
        q.leave.run(text("id", id));
      }),

    members: () => run(() => q.members.all().map(toMember)),

    getSetting: (key) => run(() => q.getSetting.get(text("key", key))?.value ?? null),

    setSetting: (key, value) =>
      run(() => {
        if (value === null) q.deleteSetting.run(text("key", key));
        else if (typeof value !== "string") throw new TypeError("setting value must be a string or null");
        else q.setSetting.run(text("key", key), value);
      }),

    listSettings: () => run(() => q.listSettings.all()),

    homeOf: (address) => run(() => q.homeOf.get(account(address))?.node ?? null),

    setHome: (address, nodeId) =>
      run(() => {
        q.setHome.run(account(address), text("nodeId", nodeId));
      }),

    clearHome: (address) =>
      run(() => {
        q.clearHome.run(account(address));
      }),

    homes: () => run(() => q.homes.all()),

    acquireLease: (address, nodeId, now, ttlMs) =>
      run(() => acquire.immediate(account(address), text("nodeId", nodeId), time("now", now), ttl(ttlMs))),

    renewLease: (lease, now, ttlMs) =>
      run(() => {
        const key = account(lease.account);
        const row = q.extendLease.get(
          time("now", now) + ttl(ttlMs),
          key,
          text("owner", lease.owner),
          lease.token,
        );
        return row === undefined ? null : { ...lease, account: key, expiresAt: row.expires_at };
      }),

    releaseLease: (lease) =>
      run(
        () => q.releaseLease.run(account(lease.account), text("owner", lease.owner), lease.token).changes > 0,
      ),

    leaseOf: (address, now) =>
      run(() => {
        const row = q.leaseOf.get(account(address), time("now", now));
        return row === undefined ? null : toLease(row);
      }),

    leases: (now) => run(() => q.leases.all(time("now", now)).map(toLease)),

    spoolEpoch: (node) => run(() => spool.epoch.get(text("node", node)) ?? null),

    takeSpool: (node, by, expected, promoted, now) =>
      run(() => takeSpool.immediate(...spoolArgs(node, by, expected, promoted, now))),

    spoolTakeovers: (node, after) =>
      run(() => spool.takeovers.all(text("node", node), count("after", after)).map(toTakeover)),

    subscribe(fn) {
      if (closed) throw new Error("cluster state is closed");
      subscribers.set(fn, new Map());
      pollTimer ??= clock.setTimeout(poll, CHANGE_POLL_MS);
      return () => {
        subscribers.delete(fn);
        if (subscribers.size === 0) {
          pollTimer?.cancel();
          pollTimer = null;
        }
      };
    },

    close: () => {
      if (!closed) {
        closed = true;
        pollTimer?.cancel();
        subscribers.clear();
        db.close();
      }
      return Promise.resolve();
    },
  };
}
