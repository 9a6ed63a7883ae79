// What a node adds to its admin HTTP server for the WebAdmin: the log ring the node's sink is
// teed into (the log viewer), the administrators and login sessions in the shared state (file or
// PostgreSQL, state-stores.ts), the administrators' login gate (login-gates.ts), and the
// message-header reader for the queue's message details. Made once per node, before anything
// logs, so every record of the node reaches the ring.
import type { WebAuth } from "../admin/web/login.js";
import { createSessionStore } from "../admin/web/sessions.js";
import type { Settings } from "../config/settings.js";
import type { LogSink } from "../log/logger.js";
import { createLogRing, teeLogSink, type LogRing } from "../log/ring.js";
import { readHeaderSection } from "../queue/headers.js";
import type { Spool } from "../queue/types.js";
import type { LoginGate } from "../state/login-gate.js";
import type { Clock } from "../world/clock.js";
import { openAdminStoreFor } from "./state-stores.js";

export interface NodeWebAdmin {
  /** The node's sink, teed into the ring: the node logs through this one. */
  readonly log: LogSink;
  readonly ring: LogRing;
  /** Undefined when webadmin.enabled is false. */
  readonly web: WebAuth | undefined;
  close(): Promise<void>;
}

export async function prepareWebAdmin(
  settings: Settings,
  sink: LogSink,
  clock: Clock,
  gate: LoginGate,
): Promise<NodeWebAdmin> {
  const w = settings.webadmin;
  const ring = createLogRing(w.logBufferRecords);
  const log = teeLogSink(sink, ring, clock);
  if (!w.enabled) return { log, ring, web: undefined, close: () => Promise.resolve() };
  const adminLog = log.for("ADMIN");
  const store = await openAdminStoreFor(settings, clock, adminLog);
  const web: WebAuth = {
    users: store.users,
    sessions: createSessionStore({
      rows: store.sessions,
      clock,
      idleMs: w.sessionIdleSeconds * 1000,
      maxMs: w.sessionMaxSeconds * 1000,
    }),
    gate,
    log: adminLog,
  };
  return { log, ring, web, close: () => store.close() };
}

/** The header section of a queued message, from the spool. */
export const spoolHeaders =
  (spool: Spool) =>
  async (id: string): Promise<string | null> => {
    try {
      return await readHeaderSection(spool.body(id));
    } catch {
      return null;
    }
  };
