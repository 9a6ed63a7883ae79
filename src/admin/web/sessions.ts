// WebAdmin sessions, in this node's memory: a session id (256 random bits, the cookie value)
// maps to the administrator and a CSRF token (the synchronizer token every state-changing
// request must echo in X-CSRF-Token). A session ends at logout, after `idleMs` without a
// request, or `maxMs` after login, whichever comes first; a node restart ends them all (the
// operator logs in again). Ids are compared by Map lookup on a hash of the id, so the table
// never holds the bearer value itself.
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../../world/clock.js";

export interface Session {
  readonly user: string;
  readonly csrf: string;
  readonly createdAt: number;
  lastSeen: number;
}

export interface SessionStore {
  /** A new session; returns its id (for the cookie) and the session. */
  create(user: string): { id: string; session: Session };
  /** The live session for a cookie value (and touches it), or null. */
  get(id: string): Session | null;
  destroy(id: string): void;
  /** Live and expired-but-unswept sessions (for health and tests). */
  size(): number;
}

const MAX_SESSIONS = 10_000;
const key = (id: string): string => createHash("sha256").update(id).digest("base64");

export function createSessionStore(opts: { clock: Clock; idleMs: number; maxMs: number }): SessionStore {
  const sessions = new Map<string, Session>();
  const alive = (s: Session, now: number): boolean =>
    now - s.lastSeen <= opts.idleMs && now - s.createdAt <= opts.maxMs;
  const sweep = (now: number): void => {
    for (const [k, s] of sessions) if (!alive(s, now)) sessions.delete(k);
  };

  return {
    create(user) {
      const now = opts.clock.now();
      if (sessions.size >= MAX_SESSIONS) sweep(now);
      while (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      const id = randomBytes(32).toString("base64url");
      const session: Session = {
        user,
        csrf: randomBytes(32).toString("base64url"),
        createdAt: now,
        lastSeen: now,
      };
      sessions.set(key(id), session);
      return { id, session };
    },
    get(id) {
      if (id.length === 0 || id.length > 128) return null;
      const k = key(id);
      const s = sessions.get(k);
      if (s === undefined) return null;
      const now = opts.clock.now();
      if (!alive(s, now)) {
        sessions.delete(k);
        return null;
      }
      s.lastSeen = now;
      return s;
    },
    destroy(id) {
      sessions.delete(key(id));
    },
    size: () => sessions.size,
  };
}
