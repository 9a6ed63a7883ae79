// The POP3 message source (DESIGN.md §1): the POP3 listeners of a single server or backend,
// giving the accounts access to their Maildir and taking mail through XTND XMIT. Started as a
// source because it needs the node's mailboxes and its Submitter; pop3.listen empty: off.
import { parseHostPort } from "../../proto/hostport.js";
import { createMaildirReader } from "../../store/maildir-reader.js";
import type { RunningSource, SourceContext } from "../context.js";
import { createMailboxLocks } from "./lock.js";
import { createPop3Server } from "./server.js";

export async function startPop3Source(ctx: SourceContext): Promise<RunningSource> {
  const { settings } = ctx;
  const store = ctx.store;
  if (settings.pop3.listen.length === 0 || store === null) return { close: () => Promise.resolve() };
  const server = createPop3Server({
    settings,
    directory: ctx.directory,
    folder: (domain, localPart) => store.folder(domain, localPart),
    reader: createMaildirReader(),
    submitter: ctx.submitter,
    locks: createMailboxLocks({ clock: ctx.clock, maxSessionMs: settings.pop3.sessionTimeoutSeconds * 1000 }),
    login: ctx.login,
    tls: ctx.tls,
    ...(ctx.stores !== undefined ? { stores: ctx.stores } : {}),
    clock: ctx.clock,
    log: ctx.log.for("POP"),
  });
  const listening: { kind: string; address: string; port: number }[] = [];
  try {
    for (const a of settings.pop3.listen) {
      const { host, port } = parseHostPort(a);
      listening.push({ kind: "pop3", ...(await server.listen(host, port)) });
    }
  } catch (e) {
    await server.close();
    throw e;
  }
  return { listening, close: () => server.close() };
}
