// The RPOP message source (DESIGN.md §1): polls the accounts' remote POP3 mailboxes (entries in
// the node's state, SQLite file or PostgreSQL, through SourceContext.openRpopStore) and submits
// what it fetches for the account, source rpop. Runs on single servers and backends; in a
// cluster each account's entries are polled by the node that stores the account
// (SourceContext.stores), each poll under the entry's claim (claimed-poll.ts) so no two
// processes poll one entry at once. Its admin API routes (routes.ts) work even with
// rpop.enabled false, so entries can be set up before polling is switched on.
import type { RunningSource, SourceContext } from "../context.js";
import type http from "node:http";
import { pollClaimed } from "./claimed-poll.js";
import { pollEntry } from "./poll.js";
import { rpopHttp, rpopRoutes } from "./routes.js";
import { createRpopScheduler, type RpopScheduler } from "./scheduler.js";

/** How often the entries are reloaded from the state (other nodes may add some). */
const REFRESH_MS = 60_000;
/** Replies a poll waits for between two renewals of its claim (RETR, DELE) and slack for the submit. */
const CLAIM_REPLIES = 4;

export async function startRpopSource(
  ctx: SourceContext,
): Promise<
  RunningSource & { readonly http: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean> }
> {
  const { settings } = ctx;
  const r = settings.rpop;
  const log = ctx.log.for("RPOP");
  const store = await ctx.openRpopStore();
  const claims = {
    store,
    holder: `${settings.node.id}/${ctx.random.bytes(6).toString("hex")}`,
    clock: ctx.clock,
    ttlMs: (r.connectTimeoutSeconds + CLAIM_REPLIES * r.commandTimeoutSeconds) * 1000,
    log,
  };
  let scheduler: RpopScheduler | null = null;
  if (r.enabled) {
    scheduler = createRpopScheduler({
      store,
      clock: ctx.clock,
      poll: (entry) =>
        pollClaimed(entry, claims, (hold) =>
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
              header: settings.smtp,
              connectTimeoutMs: r.connectTimeoutSeconds * 1000,
              commandTimeoutMs: r.commandTimeoutSeconds * 1000,
            },
            hold,
            log,
          }),
        ),
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
  const routes = rpopRoutes({
    store,
    directory: ctx.directory,
    changed: () => void scheduler?.refresh(),
  });
  return {
    http: rpopHttp(routes, () => Promise.resolve(ctx.adminToken), ctx.log.for("ADMIN")),
    async close() {
      await scheduler?.stop();
      await store.close();
    },
  };
}
