// WebAdmin sessions: a session id (256 random bits, the cookie value) names the administrator
// and a CSRF token (the synchronizer token every state-changing request must echo in
// X-CSRF-Token). A session ends at logout, after `idleMs` without a request, or `maxMs` after
// login, whichever comes first, and when its administrator is removed or changes password.
// Sessions live in the state store beside the administrators (SessionRows, one adapter per
// backend), so a login holds on every member of a cluster behind a load balancer and survives a
// node restart. Rows are keyed by a hash of the id, so the store never holds the bearer value.
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../../world/clock.js";

export interface Session {
  readonly user: string;
  readonly csrf: string;
  readonly createdAt: number;
  readonly lastSeen: number;
}

/** How an adapter keeps sessions; `key` is already hashed. */
export interface SessionRows {
  insert(key: string, session: Session): Promise<void>;
  get(key: string): Promise<Session | null>;
  touch(key: string, at: number): Promise<void>;
  remove(key: string): Promise<void>;
  /** Drops sessions last seen before `idleBefore` or created before `createdBefore`. */
  sweep(idleBefore: number, createdBefore: number): Promise<void>;
  /** Keeps the `keep` most recently seen sessions and drops the rest. */
  trim(keep: number): Promise<void>;
  count(): Promise<number>;
}

export interface SessionStore {
  /** A new session; returns its id (for the cookie) and the session. */
  create(user: string): Promise<{ id: string; session: Session }>;
  /** The live session for a cookie value (and touches it), or null. */
  get(id: string): Promise<Session | null>;
  destroy(id: string): Promise<void>;
}

const MAX_SESSIONS = 10_000;
// lastSeen is written at most this often per session, so browsing is not a write per request;
// the idle timeout is therefore exact to within this much.
const MAX_TOUCH_EVERY_MS = 60_000;
const key = (id: string): string => createHash("sha256").update(id).digest("base64");

export function createSessionStore(opts: {
  rows: SessionRows;
  clock: Clock;
  idleMs: number;
  maxMs: number;
}): SessionStore {
  const { rows } = opts;
  const touchEvery = Math.min(MAX_TOUCH_EVERY_MS, Math.floor(opts.idleMs / 10));
  const alive = (s: Session, now: number): boolean =>
    now - s.lastSeen <= opts.idleMs && now - s.createdAt <= opts.maxMs;

  return {
    async create(user) {
      const now = opts.clock.now();
      // Logins are rare (and scrypt-bound), so each one clears out what has expired.
      await rows.sweep(now - opts.idleMs, now - opts.maxMs);
      if ((await rows.count()) >= MAX_SESSIONS) await rows.trim(MAX_SESSIONS - 1);
      const id = randomBytes(32).toString("base64url");
      const session: Session = {
        user,
        csrf: randomBytes(32).toString("base64url"),
        createdAt: now,
        lastSeen: now,
      };
      await rows.insert(key(id), session);
      return { id, session };
    },
    async get(id) {
      if (id.length === 0 || id.length > 128) return null;
      const k = key(id);
      const s = await rows.get(k);
      if (s === null) return null;
      const now = opts.clock.now();
      if (!alive(s, now)) {
        await rows.remove(k);
        return null;
      }
      if (now - s.lastSeen >= touchEvery) await rows.touch(k, now);
      return { ...s, lastSeen: now };
    },
    destroy: (id) => rows.remove(key(id)),
  };
}
