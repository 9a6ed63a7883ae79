// The TRANSACTION state (RFC 1939 §5, §7): STAT, LIST, RETR, DELE, NOOP, RSET, UIDL, TOP, and
// XTND XMIT (xmit.ts). Message numbers are checked strictly (digits, in range, not deleted);
// a message that vanished from the Maildir behind the session's back (another reader deleted
// it) gets -ERR rather than an empty message.
import { multiLine, parseMessageNumber, topOf } from "../../proto/pop3.js";
import type { DropMessage } from "./maildrop.js";
import type { Pop3Command, Pop3Session } from "./session.js";
import { xtnd } from "./xmit.js";

/** The message an argument names, or an -ERR already sent (null). */
async function message(s: Pop3Session, arg: string): Promise<DropMessage | null> {
  const n = parseMessageNumber(arg);
  if (n === null) {
    await s.err("message number required");
    return null;
  }
  const m = s.drop?.get(n) ?? null;
  if (m === null) {
    const deleted = s.drop?.messages[n - 1]?.deleted === true;
    await s.err(deleted ? `message ${n} already deleted` : `no message ${n}`);
    return null;
  }
  return m;
}

/** One listing command (LIST, UIDL): all messages, or one. */
function listing(name: string, line: (n: number, m: DropMessage) => string): Pop3Command {
  return {
    name,
    states: ["transaction"],
    async run(s, arg) {
      const drop = s.drop!;
      if (arg !== "") {
        if (arg.includes(" ")) return s.err(`${name} takes at most one message number`);
        const m = await message(s, arg);
        if (m === null) return;
        return s.ok(line(drop.messages.indexOf(m) + 1, m));
      }
      const st = drop.stat();
      let out = `+OK ${st.count} messages (${st.octets} octets)\r\n`;
      drop.messages.forEach((m, i) => {
        if (!m.deleted) out += `${line(i + 1, m)}\r\n`;
      });
      return s.send(`${out}.\r\n`);
    },
  };
}

async function send(s: Pop3Session, m: DropMessage, lines: number | null): Promise<void> {
  let bytes: Buffer | null;
  try {
    bytes = await s.drop!.read(m);
  } catch (e) {
    // Readable at login, not now (I/O error, permissions changed): this message only.
    s.log.problem("message unreadable", { uid: m.uid, file: m.entry.file, error: String(e) });
    return s.err("[SYS/TEMP] cannot read this message, try again later");
  }
  if (bytes === null) {
    s.log.problem("message vanished", { uid: m.uid });
    return s.err("[SYS/TEMP] message is no longer in the mailbox");
  }
  m.seen = m.seen || lines === null;
  await s.send(`+OK ${lines === null ? `${m.size} octets` : "top of message follows"}\r\n`);
  await s.send(multiLine(lines === null ? bytes : topOf(bytes, lines)));
}

const stat: Pop3Command = {
  name: "STAT",
  states: ["transaction"],
  async run(s, arg) {
    if (arg !== "") return s.err("STAT takes no argument");
    const st = s.drop!.stat();
    return s.ok(`${st.count} ${st.octets}`);
  },
};

const retr: Pop3Command = {
  name: "RETR",
  states: ["transaction"],
  async run(s, arg) {
    const m = await message(s, arg);
    if (m !== null) await send(s, m, null);
  },
};

const top: Pop3Command = {
  name: "TOP",
  states: ["transaction"],
  async run(s, arg) {
    const [num = "", count, extra] = arg.split(" ");
    if (count === undefined || extra !== undefined || !/^[0-9]{1,9}$/.test(count))
      return s.err("TOP needs a message number and a line count");
    const m = await message(s, num);
    if (m !== null) await send(s, m, Number(count));
  },
};

const dele: Pop3Command = {
  name: "DELE",
  states: ["transaction"],
  async run(s, arg) {
    const m = await message(s, arg);
    if (m === null) return;
    m.deleted = true;
    return s.ok(`message ${arg.replace(/^0+/, "")} deleted`);
  },
};

const noop: Pop3Command = {
  name: "NOOP",
  states: ["transaction"],
  run: (s, arg) => (arg !== "" ? s.err("NOOP takes no argument") : s.ok()),
};

const rset: Pop3Command = {
  name: "RSET",
  states: ["transaction"],
  async run(s, arg) {
    if (arg !== "") return s.err("RSET takes no argument");
    s.drop!.reset();
    const st = s.drop!.stat();
    return s.ok(`maildrop has ${st.count} messages (${st.octets} octets)`);
  },
};

export const TRANSACTION_COMMANDS: readonly Pop3Command[] = [
  stat,
  listing("LIST", (n, m) => `${n} ${m.size}`),
  listing("UIDL", (n, m) => `${n} ${m.uid}`),
  retr,
  top,
  dele,
  noop,
  rset,
  xtnd,
];
