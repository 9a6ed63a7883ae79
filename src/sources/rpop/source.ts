// The RPOP message source (DESIGN.md §1): polls the accounts' remote POP3 mailboxes (entries in
// the state file, sqlite-store.ts) and submits what it fetches for the account, source rpop.
// Runs on single servers and backends; in a cluster each account's entries are polled by the
// node that stores the account (SourceContext.stores). Its admin API routes (routes.ts) work
// even with rpop.enabled false, so entries can be set up before polling is switched on.
import { resolve } from "node:path";
import { loadOrCreateAdminToken } from "../../admin/token.js";
import { statePath } from "../../config/paths.js";
import type { RunningSource, SourceContext } from "../context.js";
import type http from "node:http";
import { pollEntry } from "./poll.js";
import { rpopHttp, rpopRoutes } from "./routes.js";
import { createRpopScheduler, type RpopScheduler } from "./scheduler.js";
import { openSqliteRpopStore } from "./sqlite-store.js";

/** How often the entries are reloaded from the state file (other nodes may add some). */
const REFRESH_MS = 60_000;

export async function startRpopSource(
  ctx: SourceContext,
): Promise<
  RunningSource & { readonly http: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> }
> {
  const { settings } = ctx;
  const r = settings.rpop;
  const log = ctx.log.for("RPOP");
  const store = openSqliteRpopStore(statePath(settings), ctx.clock);
  let scheduler: RpopScheduler | null = null;
  if (r.enabled) {
    scheduler = createRpopScheduler({
      store,
      clock: ctx.clock,
      poll: (entry) =>
        pollEntry(entry, {
          store,
          submitter: ctx.submitter,
          dialer: ctx.dialer,
          clock: ctx.clock,
          hostname: settings.hostname,
          limits: {
            maxMessages: r.maxMessagesPerPoll,
            maxBytes: r.maxBytesPerPoll,
            maxMessageSize: r.maxMessageSize,
            connectTimeoutMs: r.connectTimeoutSeconds * 1000,
            commandTimeoutMs: r.commandTimeoutSeconds * 1000,
          },
          log,
        }),
      ...(ctx.stores !== undefined ? { owns: ctx.stores } : {}),
      maxConcurrent: r.maxConcurrentPolls,
      minIntervalMs: r.minIntervalSeconds * 1000,
      backoffMs: r.backoffSeconds * 1000,
      maxBackoffMs: r.maxBackoffSeconds * 1000,
      authBackoffMs: r.authBackoffSeconds * 1000,
      refreshMs: REFRESH_MS,
      log,
    });
    try {
      await scheduler.start();
    } catch (e) {
      await store.close();
      throw e;
    }
    log.major("rpop polling started", { entries: (await store.list()).length });
  }
  let token: Promise<string> | null = null;
  const routes = rpopRoutes({
    store,
    directory: ctx.directory,
    changed: () => void scheduler?.refresh(),
  });
  return {
    http: rpopHttp(
      routes,
      () => (token ??= loadOrCreateAdminToken(resolve(settings.dataDir))),
      ctx.log.for("ADMIN"),
    ),
    async close() {
      await scheduler?.stop();
      await store.close();
    },
  };
}
