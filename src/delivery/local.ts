// The mailbox channel: delivers queued recipients whose route is "local:<address>" into the
// account's Maildir. Per recipient, in order: the account must exist (else 5.1.1) and be enabled
// (5.2.1); a Delivered-To: line for the same address already in the header section means the
// message has been here before (5.4.6 loop, RFC 5598-style loop detection as Postfix local(8)
// does); the account's size limit (5.3.4), quota and incoming flow limit (4.7.1) are checked. The
// quota goes by the mailbox's own usage (mailbox-usage.ts: Maildir++ maildirsize, lowered by
// deletions); a message it cannot hold is refused as smtp.overQuota says: reject, 552 5.2.2 (one
// DSN); queue, 452 4.2.2, retried until local.overQuotaGiveUpHours (queue/outcomes.ts); then Return-Path: and Delivered-To: are prepended
// and the message is stored durably before "delivered" is returned. The message bytes and
// envelope come from our own queue but originate on the network: headers are scanned with a
// bound, and nothing from them is logged. Outcomes are values; nothing here throws.
import type { Readable } from "node:stream";
import type { Settings } from "../config/settings.js";
import type { Account, Directory } from "../directory/directory.js";
import type { Log } from "../log/logger.js";
import { bounced, deferred, delivered, type Outcome } from "../proto/outcome.js";
import { findHeaderEnd } from "../proto/header-fields.js";
import { REPLIES } from "../proto/reply.js";
import type { DeliveryJob } from "../queue/types.js";
import { StoreFencedError, type MaildirStore } from "../store/maildir.js";
import type { Clock } from "../world/clock.js";
import { withMailboxUsage, type MeasuredUsage } from "./mailbox-usage.js";
import { deliverWithRules, rulesApply, type DeliveryRules } from "./rules-hook.js";

export interface LocalChannelOptions {
  readonly directory: Directory;
  readonly store: MaildirStore;
  readonly settings: Settings;
  readonly clock: Clock;
  /** Tag LOCAL. */
  readonly log: Log;
  readonly hostname: string;
  /** Account and domain rules (rules-hook.ts); absent: every message goes to INBOX. */
  readonly rules?: DeliveryRules;
}

export interface LocalChannel {
  deliver(job: DeliveryJob): Promise<Outcome[]>;
}

const RELAY = "mailbox";
/** Header bytes scanned for Delivered-To:; a longer header section is scanned this far. */
const MAX_HEADER_SCAN = 256 * 1024;

/**
 * Collects the header section (up to the first empty line, at most MAX_HEADER_SCAN bytes) from
 * chunks as they pass: push() says when it has seen enough.
 */
export class HeaderScan {
  private head = Buffer.alloc(0);
  private result: string | null = null;

  /** Feed the next chunk; true once the header section is complete (or the bound is reached). */
  push(buf: Buffer): boolean {
    if (this.result !== null) return true;
    // Search only the new bytes (and the 3 before them, for a blank line split across chunks).
    const from = Math.max(0, this.head.length - 3);
    this.head = Buffer.concat([this.head, buf.subarray(0, Math.min(buf.length, MAX_HEADER_SCAN))]);
    const blank = findHeaderEnd(this.head, from);
    if (blank !== null) this.result = this.head.toString("latin1", 0, blank.start);
    else if (this.head.length >= MAX_HEADER_SCAN)
      this.result = this.head.toString("latin1", 0, MAX_HEADER_SCAN);
    return this.result !== null;
  }

  /** The header section: what was seen so far when the message ended without an empty line. */
  header(): string {
    return this.result ?? this.head.toString("latin1");
  }
}

async function readHeaderSection(body: Readable): Promise<string> {
  const scan = new HeaderScan();
  try {
    for await (const chunk of body) {
      if (scan.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer))) break;
    }
    return scan.header();
  } finally {
    body.destroy();
  }
}

/** Every Delivered-To: value in a header section, unfolded, lower-case, without brackets. */
export function deliveredToValues(header: string): string[] {
  const out: string[] = [];
  // RFC 5322 §2.2.3: a line starting with white space continues the previous field.
  const fields = header.split(/\r?\n(?![ \t])/);
  for (const f of fields) {
    const m = /^delivered-to[ \t]*:(.*)$/is.exec(f);
    if (!m) continue;
    const value = (m[1] ?? "").replace(/\r?\n/g, "").trim().toLowerCase();
    out.push(value.replace(/^<(.*)>$/, "$1").trim());
  }
  return out;
}

// CR/LF in an envelope address would let it add header lines of its own.
const headerSafe = (s: string): string => s.replace(/[\r\n]/g, "");

/** The lines every stored copy starts with (RFC 5321 §4.4 Return-Path; Delivered-To for loops). */
export const mailboxPrepend = (returnPath: string, account: Account): Buffer =>
  Buffer.from(`Return-Path: <${headerSafe(returnPath)}>\r\nDelivered-To: ${account.address}\r\n`, "utf8");

/**
 * After a store: usage, and incoming flow for an account with an incoming flow limit (only those
 * are ever counted, so a limit counts messages from when it is set, and unlimited accounts cost
 * no write per message). The message is delivered whatever this does.
 */
export async function recordStored(
  directory: Pick<Directory, "addUsage" | "recordFlow"> & MeasuredUsage,
  log: Log,
  account: Account,
  size: number,
  at: number,
): Promise<void> {
  try {
    // With a quota the figure is the mailbox's, measured again (mailbox-usage.ts); else a count.
    if (account.quotaBytes !== null) await directory.measure(account);
    else await directory.addUsage(account.address, size);
    if (account.inFlow !== null) await directory.recordFlow(account.address, "in", at);
  } catch (e) {
    log.problem("usage update failed", { to: account.address, error: String(e) });
  }
}

/** One line per recipient state change, as Postfix logs them (to=, relay=, delay=, dsn=, status=). */
export function logOutcome(
  log: Log,
  out: Outcome,
  f: { id: string; to: string; orig_to: string | null; arrival: number; start: number; now: number },
): void {
  const fields = {
    id: f.id,
    to: f.to,
    orig_to: f.orig_to,
    relay: out.relay,
    delay: (f.now - f.arrival) / 1000,
    took: (f.now - f.start) / 1000,
    dsn: out.reply.enhanced,
    status: out.kind === "deferred" ? "deferred" : out.kind === "bounced" ? "bounced" : "sent",
    reply: `${out.reply.code} ${out.reply.text}`,
  };
  if (out.kind === "deferred") log.problem("delivery deferred", fields);
  else log.major(out.kind === "delivered" ? "delivered" : "delivery bounced", fields);
}

export function createLocalChannel(o: LocalChannelOptions): LocalChannel {
  const log = o.log;
  // The mailbox a delivery stores into is here: one that does not exist yet is empty.
  const directory = withMailboxUsage(o.directory, { store: o.store, allHere: true, log });

  const overInFlow = async (account: Account): Promise<boolean> => {
    const limit = account.inFlow;
    if (limit === null) return false;
    const since = o.clock.now() - limit.periodSeconds * 1000;
    return (await o.directory.countFlow(account.address, "in", since)) >= limit.messages;
  };

  // Not a failure: the account moved to another backend while we wrote; it retries there.
  const fenced = (job: DeliveryJob, e: StoreFencedError): Outcome => {
    log.problem("store abandoned", { to: e.account, id: job.envelope.id, why: e.reason });
    return deferred(REPLIES.storeFenced, RELAY);
  };

  const one = async (
    job: DeliveryJob,
    address: string,
    seen: () => Promise<Set<string>>,
  ): Promise<Outcome> => {
    let account: Account | null;
    try {
      account = await directory.getAccount(address);
    } catch (e) {
      log.problem("directory lookup failed", { to: address, error: String(e) });
      return deferred(REPLIES.directoryUnavailable, RELAY);
    }
    if (account === null) return bounced(REPLIES.unknownUser, RELAY);
    if (!account.enabled) return bounced(REPLIES.mailboxDisabled, RELAY);

    let header: Set<string>;
    try {
      header = await seen();
    } catch (e) {
      log.failure("message read failed", { to: address, id: job.envelope.id, error: String(e) });
      return deferred(REPLIES.mailboxWriteFailed, RELAY, "message");
    }
    if (header.has(account.address)) return bounced(REPLIES.forwardingLoop, RELAY);

    const prepend = mailboxPrepend(job.envelope.returnPath, account);
    const size = job.envelope.size + prepend.length;
    if (account.maxMessageSize !== null && job.envelope.size > account.maxMessageSize) {
      return bounced(REPLIES.messageTooBig, RELAY);
    }
    if (account.quotaBytes !== null && account.usedBytes + size > account.quotaBytes) {
      return o.settings.smtp.overQuota === "reject"
        ? bounced(REPLIES.overQuotaPerm, RELAY)
        : deferred(REPLIES.overQuotaTemp, RELAY);
    }
    try {
      if (await overInFlow(account)) return deferred(REPLIES.recipientOverLimit, RELAY);
    } catch (e) {
      log.problem("directory lookup failed", { to: address, error: String(e) });
      return deferred(REPLIES.directoryUnavailable, RELAY);
    }

    if (o.rules && (await rulesApply(o.rules, account))) {
      try {
        const r = await deliverWithRules(o.rules, { store: o.store, clock: o.clock }, job, account, prepend);
        if (r.stored > 0) await recordStored(directory, log, account, r.stored, o.clock.now());
        return r.outcome;
      } catch (e) {
        if (e instanceof StoreFencedError) return fenced(job, e);
        log.failure("mailbox write failed", { to: account.address, id: job.envelope.id, error: String(e) });
        return deferred(REPLIES.mailboxWriteFailed, RELAY);
      }
    }
    let stored: { size: number; path: string };
    try {
      stored = await o.store.deliver(account.domain, account.localPart, job.body(), prepend);
    } catch (e) {
      if (e instanceof StoreFencedError) return fenced(job, e);
      log.failure("mailbox write failed", {
        to: account.address,
        id: job.envelope.id,
        error: (e as NodeJS.ErrnoException).code ?? String(e),
      });
      return deferred(REPLIES.mailboxWriteFailed, RELAY);
    }
    await recordStored(directory, log, account, stored.size, o.clock.now());
    return delivered(REPLIES.deliveredMailbox, RELAY);
  };

  return {
    async deliver(job) {
      // Read the header section once per job, and only when some recipient gets that far.
      let scan: Promise<Set<string>> | null = null;
      const seen = () => (scan ??= readHeaderSection(job.body()).then((h) => new Set(deliveredToValues(h))));
      const outcomes: Outcome[] = [];
      for (const { rcpt } of job.recipients) {
        const address = rcpt.address.trim().toLowerCase();
        const start = o.clock.now();
        let out: Outcome;
        try {
          out = await one(job, address, seen);
        } catch (e) {
          // Defensive: a bug must not turn into a lost or bounced message.
          log.failure("local delivery failed", { to: address, id: job.envelope.id, error: String(e) });
          out = deferred(REPLIES.mailboxWriteFailed, RELAY);
        }
        outcomes.push(out);
        logOutcome(log, out, {
          id: job.envelope.id,
          to: address,
          orig_to: rcpt.original,
          arrival: job.envelope.arrival,
          start,
          now: o.clock.now(),
        });
      }
      return outcomes;
    },
  };
}
