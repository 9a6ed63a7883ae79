// The frontend role (DESIGN.md §1, seed "SMTP Relaying"): takes SMTP, asks the live backends
// every directory question (the cluster API, cached; password checks keyed on the account's
// credential stamp in the shared state, so a change applies at once; no answer from any backend
// is a 4xx, never a guess), enqueues, relays remote mail itself and hands local mail over the delivery channel
// to the backend placement names. A frontend never opens an account or writes a mailbox.
import { createClusterDirectory } from "../cluster/api/client.js";
import { createClusterRouter } from "../delivery/cluster-router.js";
import { withRemovedAccounts } from "../delivery/removed-accounts.js";
import { relayChannel, type RoleContext, type RoleParts } from "./role-parts.js";

/** Entries per answer cache of the cluster directory client. */
const CACHE_ENTRIES = 10_000;

export function startFrontendRole(ctx: RoleContext): RoleParts {
  const { settings, world, log } = ctx;
  const c = settings.cluster;
  const clusterDirectory = createClusterDirectory({
    backends: () => ctx.members.live("backend").map((m) => ({ id: m.id, http: m.http })),
    secret: c.secret,
    nodeId: settings.node.id,
    clock: world.clock,
    timeoutMs: c.apiTimeoutSeconds * 1000,
    cacheMs: c.cacheSeconds * 1000,
    negativeCacheMs: c.negativeCacheSeconds * 1000,
    maxEntries: CACHE_ENTRIES,
    // Read from the shared state at each check: a password change applies at the next AUTH.
    credentialStamp: (address) => ctx.directory.credentialStamp(address),
    log: log.for("CLUSTER"),
    memberTls: ctx.memberTls,
  });
  const relay = relayChannel(ctx);
  const deliverer = createClusterRouter({
    lookup: (address) => clusterDirectory.lookup(address),
    // Mail queued for an account removed since is bounced (5.1.1), not kept for want of a home.
    local: withRemovedAccounts(ctx.channelClient, (address) => clusterDirectory.lookup(address)),
    relay,
    forwardTo: settings.smtp.forwardTo,
  });
  return {
    inbound: clusterDirectory,
    deliverer,
    closeListeners: () => Promise.resolve(),
    async close() {
      await relay.close();
      clusterDirectory.close();
    },
  };
}
