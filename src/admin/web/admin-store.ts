// The WebAdmin's persistent state as one store per state backend: the administrators
// (users.ts), their login sessions (sessions.ts) and the failed-login counts (throttle.ts), in
// the SQLite state file or on PostgreSQL (src/server/state-stores.ts picks), so every member of
// a cluster sharing that state knows the same administrators, honours the same sessions and
// counts the same failures.
import type { SessionRows } from "./sessions.js";
import type { ThrottleRows } from "./throttle.js";
import type { AdminUserStore } from "./users.js";

export interface AdminStore {
  /** Removing an administrator or changing a password also ends that administrator's sessions. */
  readonly users: AdminUserStore;
  readonly sessions: SessionRows;
  readonly loginFailures: ThrottleRows;
  close(): Promise<void>;
}
