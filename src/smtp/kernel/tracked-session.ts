// Running one accepted session of a line-protocol listener (SMTP, LMTP, POP3; see listener.ts):
// it counts in `sessions` and, where the listener limits
// connections per address, in its client address's entry of `perIp` until it has closed,
// and a crash is logged and the connection destroyed rather than thrown out of the accept loop.
import type { Log } from "../../log/logger.js";

export interface TrackedSession {
  run(): Promise<void>;
  closed(): Promise<void>;
  destroy(): void;
}

export function runTracked<S extends TrackedSession>(
  session: S,
  o: {
    readonly sessions: Set<S>;
    /** Per-address counts, and this session's address (listeners without a per-address limit omit both). */
    readonly perIp?: Map<string, number>;
    readonly ip?: string;
    readonly log: Log;
  },
): void {
  o.sessions.add(session);
  void session
    .run()
    .catch((e: unknown) => {
      o.log.failure("session crashed", { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      session.destroy();
    })
    .then(() => session.closed())
    .finally(() => {
      o.sessions.delete(session);
      if (o.perIp === undefined || o.ip === undefined) return;
      const n = (o.perIp.get(o.ip) ?? 1) - 1;
      if (n <= 0) o.perIp.delete(o.ip);
      else o.perIp.set(o.ip, n);
    });
}
