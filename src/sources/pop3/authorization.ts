// The AUTHORIZATION state (RFC 1939 §4, §7): USER/PASS, AUTH PLAIN (RFC 5034, RFC 4616), CAPA
// (RFC 2449), STLS (RFC 2595), QUIT. APOP is not offered: it needs the plain password on the
// server, and the directory keeps only scrypt hashes. Passwords are never logged. Logins go
// through the node's login gate (src/state/login-gate.ts: the canonical name, the throttle in the
// shared state before the password is looked at, the `auth failed` line), and are refused in the
// clear when pop3.authRequiresTls is set. A successful login locks the mailbox ([IN-USE] when it is
// already open elsewhere, RFC 2449 §8.1.1) and opens the maildrop.
import { errLine } from "../../proto/pop3.js";
import { Maildrop } from "./maildrop.js";
import type { Pop3Command, Pop3Session } from "./session.js";

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_USER = 320;

/** The capability list (RFC 2449 §6); what is offered depends on the state and on TLS. */
export function capabilities(s: Pop3Session): string[] {
  const caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
  if (s.state === "authorization") {
    if (s.authAllowed) caps.push("USER", "SASL PLAIN");
    if (s.tlsAvailable && !s.tlsActive) caps.push("STLS");
  }
  caps.push("XTND XMIT", "IMPLEMENTATION Mailyard");
  return caps;
}

/** Check the credentials and enter TRANSACTION; answers the client either way. */
async function login(s: Pop3Session, user: string, password: string, how: string): Promise<void> {
  const r = await s.o.login.check({
    service: "pop3",
    mech: how,
    ip: s.remote.address,
    log: s.log,
    typed: user,
    password,
    verify: (name, pw) => s.o.directory.verifyPassword(name, pw),
    usable: (a) => a.enabled,
  });
  switch (r.kind) {
    case "throttled":
      return s.err("[AUTH] too many failed logins, try again later");
    case "invalid":
      return s.err("[AUTH] invalid user name or password");
    case "temporary":
      return s.err("[SYS/TEMP] directory unavailable, try again later");
    case "ok":
      break;
  }
  const account = r.account;
  // In a cluster the mailbox is on its home backend; an empty one here would mislead the client.
  if (s.o.stores !== undefined && !(await s.o.stores(account.address).catch(() => false))) {
    s.log.problem("mailbox stored elsewhere", { user: account.address });
    return s.err("[SYS/TEMP] this mailbox is not stored on this server, connect to its home backend");
  }
  const box = s.o.folder(account.domain, account.localPart);
  let release;
  try {
    release = await s.o.locks.acquire(box, `${s.o.settings.node.id} ${process.pid} ${s.id}`);
  } catch (e) {
    s.log.problem("mailbox lock failed", { user: account.address, error: String(e) });
    return s.err("[SYS/TEMP] cannot lock the mailbox, try again later");
  }
  if (release === null) {
    s.log.problem("mailbox in use", { user: account.address });
    return s.err("[IN-USE] mailbox is open in another session");
  }
  try {
    s.drop = await Maildrop.open(box, s.o.reader, (path, error) =>
      s.log.problem("unreadable message skipped", { user: account.address, path, error: String(error) }),
    );
  } catch (e) {
    await release();
    s.log.problem("mailbox unreadable", { user: account.address, error: String(e) });
    return s.err("[SYS/TEMP] cannot read the mailbox, try again later");
  }
  s.release = release;
  s.account = account;
  s.state = "transaction";
  s.log = s.o.log.with(s.id, `${s.remote.address} ${account.address}`);
  const st = s.drop.stat();
  s.log.low("logged in", { user: account.address, mech: how, messages: st.count, tls: s.tlsActive });
  return s.ok(`${account.address} has ${st.count} messages (${st.octets} octets)`);
}

const user: Pop3Command = {
  name: "USER",
  states: ["authorization"],
  async run(s, arg) {
    s.pendingUser = null;
    if (!s.authAllowed) return s.err("[AUTH] use STLS first: logins need TLS here");
    if (arg === "" || arg.length > MAX_USER || /\s/.test(arg)) return s.err("USER needs one name");
    s.pendingUser = arg;
    return s.ok("send PASS");
  },
};

const pass: Pop3Command = {
  name: "PASS",
  states: ["authorization"],
  async run(s, arg) {
    const name = s.pendingUser;
    s.pendingUser = null;
    if (name === null) return s.err("PASS must follow USER");
    if (!s.authAllowed) return s.err("[AUTH] use STLS first: logins need TLS here");
    // The password is the rest of the line, spaces included (§7).
    if (arg === "") return s.err("PASS needs a password");
    return login(s, name, arg, "USER");
  },
};

const auth: Pop3Command = {
  name: "AUTH",
  states: ["authorization"],
  async run(s, arg) {
    s.pendingUser = null;
    if (arg === "") {
      // Listing the mechanisms (RFC 1734 style clients ask this way).
      return s.send(`+OK\r\n${s.authAllowed ? "PLAIN\r\n" : ""}.\r\n`);
    }
    const [mech = "", initial, extra] = arg.split(" ");
    if (extra !== undefined) return s.err("AUTH takes a mechanism and an initial response");
    if (mech.toUpperCase() !== "PLAIN") return s.err("[AUTH] unsupported mechanism (use PLAIN)");
    if (!s.authAllowed) return s.err("[AUTH] use STLS first: logins need TLS here");
    let response = initial;
    if (response === undefined) {
      await s.send("+ \r\n");
      const line = await s.readLine();
      if (line === null) return;
      if (line === "tooLong") return s.err("authentication response too long");
      response = line.text.trim();
    }
    if (response === "*") return s.err("authentication cancelled");
    const text = response === "=" ? "" : response;
    if (!BASE64.test(text)) return s.err("authentication response is not base64");
    const parts = Buffer.from(text, "base64").toString("utf8").split("\0");
    if (parts.length !== 3) return s.err("[AUTH] malformed PLAIN response");
    const [authz, name, password] = parts as [string, string, string];
    // Acting for another user (authzid) is not supported: only empty or oneself.
    if (name === "" || name.length > MAX_USER || (authz !== "" && authz !== name)) {
      await s.o.login.refuse(
        { service: "pop3", mech: "PLAIN", ip: s.remote.address, log: s.log },
        name,
        "malformed",
      );
      return s.err("[AUTH] invalid user name or password");
    }
    return login(s, name, password, "PLAIN");
  },
};

const apop: Pop3Command = {
  name: "APOP",
  states: ["authorization"],
  run: (s) => s.err("[AUTH] APOP is not supported here (use USER/PASS or AUTH PLAIN)"),
};

const stls: Pop3Command = {
  name: "STLS",
  states: ["authorization"],
  async run(s, arg) {
    if (arg !== "") return s.err("STLS takes no argument");
    if (s.tlsActive) return s.err("TLS is already active");
    if (!s.tlsAvailable) return s.err("TLS is not available here");
    s.pendingUser = null;
    await s.startTls();
  },
};

const capa: Pop3Command = {
  name: "CAPA",
  states: ["authorization", "transaction"],
  async run(s, arg) {
    if (arg !== "") return s.err("CAPA takes no argument");
    return s.send(`+OK capability list follows\r\n${capabilities(s).join("\r\n")}\r\n.\r\n`);
  },
};

const quit: Pop3Command = {
  name: "QUIT",
  states: ["authorization", "transaction"],
  async run(s) {
    s.end();
    if (s.state !== "transaction" || s.drop === null)
      return s.ok(`${s.o.settings.hostname} POP3 signing off`);
    // UPDATE (§6): only now are the messages marked as deleted removed.
    s.state = "update";
    const r = await s.drop.update();
    s.log.low("update", { removed: r.removed, gone: r.gone, failed: r.failed });
    // The deletions are in the mailbox's maildirsize; reading the account brings the usage the
    // directory shows (and other members answer with) down to it (delivery/mailbox-usage.ts).
    if (r.removed > 0 && s.account !== null)
      await s.o.directory.getAccount(s.account.address).catch(() => undefined);
    if (r.failed > 0) return s.send(errLine(`[SYS/TEMP] ${r.failed} messages could not be deleted`));
    return s.ok(`${s.o.settings.hostname} POP3 signing off (${r.removed + r.gone} messages deleted)`);
  },
};

export const AUTHORIZATION_COMMANDS: readonly Pop3Command[] = [user, pass, auth, apop, stls, capa, quit];
