// The single-server role (DESIGN.md §1): one node holds the accounts and their mailboxes,
// delivers local mail into its Maildir and relays the rest (MX, or smtp.forwardTo). Built like
// frontend.ts and backend.ts from the context every role gets (role-parts.ts), without the
// cluster's parts: no members, no placement, no delivery channel.
import { mailRoot } from "../config/paths.js";
import { createLocalChannel } from "../delivery/local.js";
import { createRelayChannel } from "../delivery/relay.js";
import { withMailboxUsage } from "../delivery/mailbox-usage.js";
import { createRouter } from "../delivery/router.js";
import type { Directory } from "../directory/directory.js";
import { createMaildirStore, type MaildirStore } from "../store/maildir.js";
import type { PartsContext, RoleParts } from "./role-parts.js";

export function startSingleRole(
  ctx: PartsContext,
): RoleParts & { readonly store: MaildirStore; readonly inbound: Directory } {
  const { settings, world, log, directory } = ctx;
  const store = createMaildirStore(mailRoot(settings), log.for("LOCAL"), {
    groupAccess: settings.local.mailGroupAccess,
  });
  const local = createLocalChannel({
    directory,
    store,
    settings,
    clock: world.clock,
    log: log.for("LOCAL"),
    hostname: settings.hostname,
    rules: ctx.rules,
  });
  const relay = createRelayChannel({
    settings,
    resolver: world.resolver,
    dialer: world.dialer,
    clock: world.clock,
    log: log.for("SMTP"),
    hostname: settings.hostname,
    ...(ctx.dkim !== undefined ? { dkim: ctx.dkim } : {}),
  });
  return {
    // Quota checks (RCPT, end of data, POP3) read the usage of the mailbox, which is all here.
    inbound: withMailboxUsage(directory, { store, allHere: true, log: log.for("LOCAL") }),
    deliverer: createRouter({ directory, local, relay, forwardTo: settings.smtp.forwardTo }),
    store,
    closeListeners: () => Promise.resolve(),
    close: () => relay.close(),
  };
}
