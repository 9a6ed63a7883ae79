// One poll of one RPOP entry: connect, STLS when asked, APOP or USER/PASS, UIDL and LIST, fetch
// the messages not fetched before (bounded per poll in count and bytes), submit each for the
// account with source rpop, and only once the submit resolved ok remember its UIDL and, in
// delete mode, DELE it; then QUIT (which is when the server applies the DELEs). A submit that
// fails ends the poll: that message and the rest stay on the server for the next poll.
//
// The outcome says who is at fault, for the scheduler's back-off: the host (cannot connect, no
// greeting, TLS failed, the connection broke), the entry (credentials refused, UIDL missing),
// or our side (the submit was refused, temporarily or not).
import { headerFields, parseAddressList, withoutFields } from "../../proto/header-fields.js";
import { rfc5322Date } from "../../proto/date.js";
import type { Log } from "../../log/logger.js";
import type { Submitter } from "../../queue/submit.js";
import type { EnvelopeDraft } from "../../queue/types.js";
import type { Clock } from "../../world/clock.js";
import type { Dialer } from "../../world/dialer.js";
import { checkHeader, type HeaderLimits } from "../../proto/header-limit.js";
import { Pop3ClientConnection, Pop3IoError } from "./client.js";
import type { RpopEntry, RpopStore } from "./store.js";

export interface PollLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxMessageSize: number;
  /** smtp.maxHeaderBytes / maxHeaderFields: a message past them is left on the server. */
  readonly header?: HeaderLimits;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
}

export type PollOutcome =
  /** Not polled here: the account is stored by another node (its home in a cluster). */
  | { readonly kind: "elsewhere" }
  | {
      readonly kind: "ok";
      readonly fetched: number;
      readonly deleted: number;
      readonly skipped: number;
      readonly more: boolean;
    }
  | {
      readonly kind: "failed";
      /** host: the server is unreachable or broken; auth: credentials refused; entry: other setup; submit: our side. */
      readonly fault: "host" | "auth" | "entry" | "submit";
      readonly error: string;
      readonly fetched: number;
    };

export interface PollDeps {
  readonly store: RpopStore;
  readonly submitter: Submitter;
  readonly dialer: Dialer;
  readonly clock: Clock;
  readonly hostname: string;
  readonly limits: PollLimits;
  /**
   * Renews this poll's claim on the entry (claimed-poll.ts) before each message it fetches;
   * false: another holder has it now, so the poll ends there. Absent: no claim to keep.
   */
  readonly hold?: () => Promise<boolean>;
  /** Tag RPOP. */
  readonly log: Log;
}

const NON_ASCII = /[\u0080-\uffff]/;
const STRIPPED = new Set(["return-path"]);

/** The envelope sender for a fetched message: its Return-Path, else its From, else <>. */
export function envelopeSender(message: Buffer): string {
  const fields = headerFields(message);
  const rp = fields.find((f) => f.name.toLowerCase() === "return-path");
  if (rp !== undefined) {
    const v = rp.value.trim();
    if (v === "<>") return "";
    const a = parseAddressList(v)[0];
    if (a !== undefined) return a;
  }
  const from = fields.find((f) => f.name.toLowerCase() === "from");
  return (from !== undefined ? parseAddressList(from.value)[0] : undefined) ?? "";
}

/** Parses "n uid" / "n size" listing lines into a map from message number. */
function listing(body: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of body.toString("utf8").split("\r\n")) {
    const m = /^(\d{1,9}) (\S{1,70})$/.exec(line.trim());
    if (m) out.set(Number(m[1]), m[2]!);
  }
  return out;
}

const failed = (
  fault: "host" | "auth" | "entry" | "submit",
  error: string,
  fetched: number,
): PollOutcome => ({
  kind: "failed",
  fault,
  error,
  fetched,
});

export async function pollEntry(entry: RpopEntry, d: PollDeps): Promise<PollOutcome> {
  const { limits, log } = d;
  const where = `${entry.host}:${entry.port}`;
  let conn: Pop3ClientConnection;
  try {
    conn = await Pop3ClientConnection.open(d.dialer, d.clock, {
      host: entry.host,
      port: entry.port,
      tls: entry.tls === "tls",
      tlsVerify: entry.tlsVerify,
      connectTimeoutMs: limits.connectTimeoutMs,
      commandTimeoutMs: limits.commandTimeoutMs,
    });
  } catch (e) {
    return failed("host", e instanceof Error ? e.message : String(e), 0);
  }
  let fetched = 0;
  try {
    if (entry.tls === "stls" && !(await conn.stls())) return failed("entry", "server refused STLS", 0);
    if (entry.apop) {
      const digest = Pop3ClientConnection.apopDigest(conn.greeting, entry.password);
      if (digest === null) return failed("entry", "server offers no APOP (no timestamp in its greeting)", 0);
      const r = await conn.command(`APOP ${entry.user} ${digest}`);
      if (!r.ok) return failed("auth", `APOP refused: ${r.text.slice(0, 200)}`, 0);
    } else {
      const u = await conn.command(`USER ${entry.user}`);
      const p = u.ok ? await conn.command(`PASS ${entry.password}`) : u;
      if (!p.ok) return failed("auth", `login refused: ${p.text.slice(0, 200)}`, 0);
    }
    const uidl = await conn.multiCommand("UIDL", 16 * 1024 * 1024);
    if (!uidl.ok) return failed("entry", `server does not support UIDL: ${uidl.text.slice(0, 200)}`, 0);
    const list = await conn.multiCommand("LIST", 16 * 1024 * 1024);
    if (!list.ok) return failed("entry", `LIST refused: ${list.text.slice(0, 200)}`, 0);
    const uids = listing(uidl.body);
    const sizes = listing(list.body);
    const seen = await d.store.seen(entry.id);
    let deleted = 0;
    let skipped = 0;
    let bytes = 0;
    let more = false;
    for (const [n, uid] of [...uids].sort((a, b) => a[0] - b[0])) {
      if (seen.has(uid)) {
        // Fetched by an earlier poll whose DELE did not take effect (no QUIT): delete it now.
        if (!entry.keep && (await conn.command(`DELE ${n}`)).ok) deleted++;
        continue;
      }
      const size = Number(sizes.get(n) ?? "0");
      if (size > limits.maxMessageSize) {
        skipped++;
        log.problem("remote message too big, left on the server", {
          entry: entry.id,
          account: entry.account,
          uid,
          size,
        });
        continue;
      }
      if (fetched >= limits.maxMessages || (fetched > 0 && bytes + size > limits.maxBytes)) {
        more = true;
        break;
      }
      if (d.hold !== undefined && !(await d.hold())) {
        log.problem("poll claim lost to another poller, poll ended", {
          entry: entry.id,
          account: entry.account,
        });
        break;
      }
      const r = await conn.multiCommand(`RETR ${n}`, limits.maxMessageSize + 64 * 1024);
      if (!r.ok) {
        log.problem("remote message not retrievable", { entry: entry.id, uid, error: r.text.slice(0, 200) });
        continue;
      }
      bytes += r.body.length;
      const over = limits.header ? checkHeader(r.body, limits.header) : null;
      if (over !== null) {
        // as for the size: never stored, never deleted, logged at each poll
        skipped++;
        log.problem("remote message header over the limit, left on the server", {
          entry: entry.id,
          account: entry.account,
          uid,
          reason: over,
        });
        continue;
      }
      const at = d.clock.now();
      const received = Buffer.from(
        `Received: from ${entry.host} by ${d.hostname} (Mailyard) with RPOP\r\n\tfor <${entry.account}>; ${rfc5322Date(at)}\r\n`,
      );
      const message = Buffer.concat([received, withoutFields(r.body, STRIPPED)]);
      const draft: EnvelopeDraft = {
        returnPath: envelopeSender(r.body),
        recipients: [{ address: entry.account, original: null, notify: null, orcpt: null }],
        ret: null,
        envid: null,
        body: NON_ASCII.test(message.toString("latin1")) ? "8BITMIME" : "7BIT",
        smtputf8: false,
        source: "rpop",
        authUser: null,
        client: null,
        arrival: at,
      };
      const sub = await d.submitter.submit(draft, message);
      if (!sub.ok) {
        log.problem("submit refused, message left on the server", {
          source: "rpop",
          entry: entry.id,
          account: entry.account,
          uid,
          code: sub.reply.code,
          text: sub.reply.text,
        });
        await conn.quit();
        return failed("submit", `submit refused: ${sub.reply.code} ${sub.reply.text}`, fetched);
      }
      fetched++;
      await d.store.remember(entry.id, uid, at);
      log.major("message submitted", {
        source: "rpop",
        id: sub.id,
        node: sub.node,
        entry: entry.id,
        account: entry.account,
        from: draft.returnPath,
        remote: where,
        uid,
        size: message.length,
      });
      if (!entry.keep) {
        const del = await conn.command(`DELE ${n}`);
        if (del.ok) deleted++;
        else log.problem("remote DELE refused", { entry: entry.id, uid, error: del.text.slice(0, 200) });
      }
    }
    const q = await conn.quit();
    if (q !== null && !q.ok && deleted > 0)
      log.problem("remote QUIT refused: deletions may not be applied", {
        entry: entry.id,
        error: q.text.slice(0, 200),
      });
    // UIDL memory bounded to what is still on the server (only a full listing says so).
    await d.store.prune(entry.id, new Set(uids.values()));
    return { kind: "ok", fetched, deleted, skipped, more };
  } catch (e) {
    conn.close();
    const msg = e instanceof Error ? e.message : String(e);
    return failed(e instanceof Pop3IoError ? "host" : "entry", msg, fetched);
  }
}
