// The POP3 command set (RFC 1939, RFC 2449, RFC 5034, XTND XMIT) by name, as a session looks
// commands up. Kept apart from session.ts, which the command files use, so that imports run one
// way: server → commands → command files → session.
import { AUTHORIZATION_COMMANDS } from "./authorization.js";
import type { Pop3Command } from "./session.js";
import { TRANSACTION_COMMANDS } from "./transaction.js";

export const POP3_COMMANDS: ReadonlyMap<string, Pop3Command> = new Map(
  [...AUTHORIZATION_COMMANDS, ...TRANSACTION_COMMANDS].map((c) => [c.name, c]),
);
