// The backend role (DESIGN.md §1, seed "Local Delivery"): hosts accounts and mailboxes, answers
// the frontends' directory questions (the cluster API on the admin HTTP server) and takes mail
// for the accounts it stores over the delivery channel (authenticated LMTP), storing before it
// answers and never enqueueing. Its own queue (mail received or generated here) delivers local
// accounts it stores into its Maildir, others over the channel to their backend, and remote mail
// by relay; with smtp.forwardTo "*" relaying goes to a live frontend. In a dynamic cluster an
// account is stored only under its ownership lease (leases.ts), taken at the first message.
//
// Trust: both listeners admit only members proving the cluster secret; what they send is still
// checked (an address this backend does not store is refused, temporarily, at RCPT).
import { createChannelServer, type ChannelServer } from "../cluster/channel/server.js";
import { backendAdmission } from "../cluster/admission.js";
import { createLeaseKeeper, type LeaseKeeper } from "../cluster/leases.js";
import { checkSharedMailRoot } from "../cluster/shared-mailroot.js";
import { fenceMarginMs, leaseFence } from "../cluster/store-fence.js";
import { frontendRotation } from "../cluster/frontends.js";
import { clusterApiHandler } from "../cluster/api/server.js";
import { createLeasedMailbox } from "../delivery/leased.js";
import { withMailboxUsage } from "../delivery/mailbox-usage.js";
import { createPlacedLocalChannel } from "../delivery/placed.js";
import { createRouter } from "../delivery/router.js";
import { mailRoot } from "../config/paths.js";
import { parseHostPort } from "../proto/hostport.js";
import { mailboxChannel, relayChannel, type RoleContext, type RoleParts } from "./role-parts.js";

/** A dynamic cluster's account lease is given back after this long without mail for it. */
const ACCOUNT_IDLE_MS = 60_000;
/** Room over smtp.maxMessageSize for the trace headers a frontend adds before handing over. */
const HEADER_ALLOWANCE = 64 * 1024;
const HEADER_FIELD_ALLOWANCE = 100;

export function startBackendRole(ctx: RoleContext): RoleParts {
  const { settings, world, log, directory, placement } = ctx;
  // Dynamic clusters: an account is written by one backend at a time, the lease holder.
  const keeper: LeaseKeeper | null =
    settings.cluster.kind === "dynamic"
      ? createLeaseKeeper({
          state: ctx.state,
          nodeId: settings.node.id,
          clock: world.clock,
          leaseMs: settings.cluster.leaseSeconds * 1000,
          idleMs: ACCOUNT_IDLE_MS,
          log: log.for("CLUSTER"),
        })
      : null;
  // Dynamic clusters: nothing is published into a mailbox without the lease, with room to spare.
  const { store, local: maildir } = mailboxChannel(
    ctx,
    keeper !== null ? leaseFence(keeper, fenceMarginMs(settings.cluster), log.for("CLUSTER")) : undefined,
  );
  // Usage in the answers of this backend (its own SMTP, the frontends' questions, POP3) follows
  // the mailboxes it stores; an account stored elsewhere keeps the directory's figure.
  const usageDirectory = withMailboxUsage(directory, { store, allHere: false, log: log.for("LOCAL") });
  const mailbox = keeper === null ? maildir : createLeasedMailbox({ keeper, mailbox: maildir });
  const relay = relayChannel(ctx, { frontends: frontendRotation(ctx.members) });
  const deliverer = createRouter({
    directory,
    local: createPlacedLocalChannel({ placement, mailbox, channel: ctx.channelClient, directory }),
    relay,
    forwardTo: settings.smtp.forwardTo,
  });

  const channelLog = log.for("DELIVERY");
  const admit = backendAdmission({ directory, placement, keeper, log: channelLog });
  let server: ChannelServer | null = null;

  return {
    inbound: usageDirectory,
    deliverer,
    mailboxes: { store, directory: usageDirectory },
    extra: clusterApiHandler({
      directory: usageDirectory,
      secret: settings.cluster.secret,
      nodeId: settings.node.id,
      clock: world.clock,
      log: log.for("CLUSTER"),
    }),
    async listenChannel() {
      // Before anything is delivered here (deliveries wait until the node has joined).
      if (keeper !== null)
        await checkSharedMailRoot({
          root: mailRoot(settings),
          secret: settings.cluster.secret,
          nodeId: settings.node.id,
          state: ctx.state,
        });
      server = createChannelServer({
        secret: settings.cluster.secret,
        hostname: settings.hostname,
        log: channelLog,
        clock: world.clock,
        admit,
        deliver: (job) => mailbox.deliver(job),
        maxMessageSize: settings.smtp.maxMessageSize + HEADER_ALLOWANCE,
        // What members send passed the same limits at their front door; their own trace and rule
        // fields (Received:, X-Mailyard-Redirected-By:, Resent-*, addheader) ride on top.
        limits: {
          maxHeaderBytes: settings.smtp.maxHeaderBytes + HEADER_ALLOWANCE,
          maxHeaderFields: settings.smtp.maxHeaderFields + HEADER_FIELD_ALLOWANCE,
        },
        // Longer than the senders keep idle sessions, so they are the ones to end them.
        timeouts: { idleMs: (settings.channel.idleKeepSeconds + settings.channel.timeoutSeconds) * 1000 },
        random: world.random,
      });
      const at = parseHostPort(settings.channel.listen);
      return server.listen(at.host, at.port);
    },
    closeListeners: () => server?.close() ?? Promise.resolve(),
    async close() {
      await relay.close();
      await keeper?.stop();
    },
  };
}
