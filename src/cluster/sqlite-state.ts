// The cluster state on the embedded SQLite file (better-sqlite3), shared by the processes of a
// cluster on one machine and possibly by the directory (same file): WAL with a busy timeout,
// its own migration table and cluster_-prefixed tables so neither schema touches the other.
// Lease changes run in IMMEDIATE transactions: the write lock is taken before the read, so two
// processes racing for one account serialize and exactly one sees it free.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Clock } from "../world/clock.js";
import {
  accountKey,
  ROLES,
  type ClusterState,
  type Lease,
  type LeaseHeld,
  type MemberInfo,
  type MemberRecord,
} from "./state.js";

const BUSY_TIMEOUT_MS = 5000;
const MAX_TEXT = 1024;

interface ClusterMigration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: string;
}

// Numbered like the directory's (src/directory/migrations.ts): a PostgreSQL adapter mirrors the
// versions and names. Never edit a released one; append.
export const CLUSTER_MIGRATIONS: readonly ClusterMigration[] = [
  {
    version: 1,
    name: "members, settings, homes, leases",
    sqlite: `
      CREATE TABLE cluster_members (
        id TEXT PRIMARY KEY NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('frontend', 'backend', 'single')),
        smtp TEXT NOT NULL,
        http TEXT NOT NULL,
        channel TEXT,
        submit_messages TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        last_heartbeat INTEGER NOT NULL,
        queue_size INTEGER NOT NULL DEFAULT 0,
        left INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE cluster_settings (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
      );
      CREATE TABLE cluster_homes (
        account TEXT PRIMARY KEY NOT NULL,
        node TEXT NOT NULL
      );
      CREATE INDEX cluster_homes_node ON cluster_homes(node);
      -- A released lease keeps its row (owner NULL) so the next token is still greater.
      CREATE TABLE cluster_leases (
        account TEXT PRIMARY KEY NOT NULL,
        owner TEXT,
        token INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
  },
];

interface MemberRow {
  id: string;
  role: string;
  smtp: string;
  http: string;
  channel: string | null;
  submit_messages: string;
  started_at: number;
  last_heartbeat: number;
  queue_size: number;
  left: number;
}

interface LeaseRow {
  account: string;
  owner: string | null;
  token: number;
  expires_at: number;
}

const toMember = (r: MemberRow): MemberRecord => ({
  id: r.id,
  role: r.role as MemberRecord["role"],
  smtp: r.smtp,
  http: r.http,
  channel: r.channel,
  submitMessages: r.submit_messages,
  startedAt: r.started_at,
  lastHeartbeat: r.last_heartbeat,
  queueSize: r.queue_size,
  left: r.left !== 0,
});

const toLease = (r: LeaseRow & { owner: string }): Lease => ({
  account: r.account,
  owner: r.owner,
  token: r.token,
  expiresAt: r.expires_at,
});

// Arguments come from our own code; a bad one is a bug, reported loudly.
function text(name: string, v: unknown): string {
  if (typeof v !== "string" || v.length === 0 || v.length > MAX_TEXT) {
    throw new TypeError(`${name} must be a non-empty string of at most ${MAX_TEXT} characters`);
  }
  return v;
}
function time(name: string, v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new TypeError(`${name} must be a time in ms`);
  return v as number;
}
function ttl(v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new TypeError("ttlMs must be a positive integer");
  return v as number;
}
const account = (address: unknown): string => accountKey(text("address", address));

function migrate(db: Database.Database, clock: Clock): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS cluster_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
  );
  const run = db.transaction(() => {
    const row = db.prepare("SELECT MAX(version) AS v FROM cluster_migrations").get() as { v: number | null };
    const current = row.v ?? 0;
    const latest = CLUSTER_MIGRATIONS[CLUSTER_MIGRATIONS.length - 1]?.version ?? 0;
    if (current > latest) {
      throw new Error(`cluster state schema version ${current} is newer than this program (${latest})`);
    }
    for (const m of CLUSTER_MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sqlite);
      db.prepare("INSERT INTO cluster_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        m.version,
        m.name,
        clock.now(),
      );
    }
  });
  // IMMEDIATE: two processes opening a fresh file at once must not both migrate.
  run.immediate();
}

export function openSqliteClusterState(path: string, clock: Clock): ClusterState {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma("journal_mode = WAL");
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // A crash of the process loses no commit; an OS crash may lose the last heartbeats, and a
    // lost lease commit only means the account is taken again after it expires.
    db.pragma("synchronous = NORMAL");
    migrate(db, clock);
  } catch (e) {
    db.close();
    throw e;
  }

  const q = {
    register: db.prepare(
      `INSERT INTO cluster_members (id, role, smtp, http, channel, submit_messages, started_at, last_heartbeat, queue_size, left)
       VALUES (@id, @role, @smtp, @http, @channel, @submit_messages, @started_at, @now, 0, 0)
       ON CONFLICT (id) DO UPDATE SET role = excluded.role, smtp = excluded.smtp, http = excluded.http,
         channel = excluded.channel, submit_messages = excluded.submit_messages, started_at = excluded.started_at,
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
        if (!ROLES.includes(m.role)) throw new TypeError(`role must be one of ${ROLES.join(", ")}`);
        q.register.run({
          id: text("id", m.id),
          role: m.role,
          smtp: text("smtp", m.smtp),
          http: text("http", m.http),
          channel: m.channel === null ? null : text("channel", m.channel),
          submit_messages: text("submitMessages", m.submitMessages),
          started_at: time("startedAt", m.startedAt),
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

    close: () => {
      if (!closed) {
        closed = true;
        db.close();
      }
      return Promise.resolve();
    },
  };
}
