// The POP3 listener: accepts TCP connections, applies the total and per-address connection
// limits (-ERR [SYS/TEMP] and close), runs one Pop3Session per connection, and on close stops
// accepting and ends every session (nothing deleted: only QUIT applies deletions). Built on the
// session kernel's listener (src/smtp/kernel/listener.ts), as the SMTP and LMTP ones are.
import { errLine } from "../../proto/pop3.js";
import { sessionListener, type SessionListener } from "../../smtp/kernel/listener.js";
import { POP3_COMMANDS } from "./commands.js";
import type { Pop3Options } from "./options.js";
import { Pop3Session } from "./session.js";

const CLOSE_GRACE_MS = 5_000;

export type Pop3Server = SessionListener;

export function createPop3Server(o: Pop3Options): Pop3Server {
  return sessionListener({
    log: o.log,
    listening: { listener: "pop3" },
    clock: o.clock,
    graceMs: CLOSE_GRACE_MS,
    maxConnections: () => o.settings.pop3.maxConnections,
    maxConnectionsPerIp: () => o.settings.pop3.maxConnectionsPerIp,
    refusal: () => errLine("[SYS/TEMP] too many connections, try again later"),
    start: (socket) => new Pop3Session(socket, o, POP3_COMMANDS),
  });
}
