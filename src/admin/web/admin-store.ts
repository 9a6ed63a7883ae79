// The WebAdmin's persistent state as one store per state backend: the administrators
// (users.ts) and their login sessions (sessions.ts), in the SQLite state file or on PostgreSQL
// (src/server/state-stores.ts picks), so every member of a cluster sharing that state knows the
// same administrators and honours the same sessions. Failed logins are counted by the login
// throttle every way in shares (src/state/throttle.ts).
import type { SessionRows } from "./sessions.js";
import type { AdminUserStore } from "./users.js";

export interface AdminStore {
  /** Removing an administrator or changing a password also ends that administrator's sessions. */
  readonly users: AdminUserStore;
  readonly sessions: SessionRows;
  close(): Promise<void>;
}
