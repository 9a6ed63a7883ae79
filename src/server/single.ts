// The single-server role (DESIGN.md §1): one node holds the accounts and their mailboxes,
// delivers local mail into its Maildir and relays the rest (MX, or smtp.forwardTo). Its parts
// are built like frontend.ts's and backend.ts's from the context every role gets
// (role-parts.ts); it stands alone: no members, no placement, no delivery channel, its own queue
// is where its message sources submit, and it is ready as soon as its listeners are.
import { createLocalReceipt } from "../delivery/receipt.js";
import { withMailboxUsage } from "../delivery/mailbox-usage.js";
import { createRouter } from "../delivery/router.js";
import { localSubmitter } from "../queue/local-submit.js";
import {
  mailboxChannel,
  relayChannel,
  type PartsContext,
  type RoleParts,
  type Standing,
} from "./role-parts.js";

export function startSingleRole(ctx: PartsContext): RoleParts {
  const { settings, log, directory } = ctx;
  const { store, local } = mailboxChannel(ctx);
  const relay = relayChannel(ctx);
  // Quota checks (RCPT, end of data, POP3) read the usage of the mailbox, which is all here.
  const inbound = withMailboxUsage(directory, { store, allHere: true, log: log.for("LOCAL") });
  return {
    inbound,
    deliverer: createRouter({ directory, local, relay, forwardTo: settings.smtp.forwardTo }),
    mailboxes: { store, directory: inbound },
    ...(settings.local.deliverOnReceipt
      ? {
          receipt: (nextId: () => string) =>
            createLocalReceipt({
              directory,
              store,
              settings,
              clock: ctx.world.clock,
              nextId,
              metrics: ctx.metrics,
              log: log.for("LOCAL"),
              rules: ctx.rules,
            }),
        }
      : {}),
    closeListeners: () => Promise.resolve(),
    close: () => relay.close(),
  };
}

/** The single server's standing: alone. */
export const standAlone: Standing<Record<never, never>> = {
  tag: "SYSTEM",
  prepare: (settings) => Promise.resolve(settings),
  check: () => undefined,
  open: ({ settings, log }) => ({
    parts: startSingleRole,
    deliverer: (d) => d,
    release: () => undefined,
    submitPath: ({ queue }) => ({
      submitter: localSubmitter(queue, {
        nodeId: settings.node.id,
        maxMessages: settings.queue.maxMessages,
        log: log.for("SUBMIT"),
      }),
      smtpVerbs: [],
    }),
    sources: {},
    inbound: {},
    admin: {},
    nodes: () => Promise.resolve([{ id: settings.node.id, role: settings.role }]),
    health: () => ({ ok: true, detail: {} }),
    join: () => Promise.resolve({}),
  }),
};
