// Delivery at receipt (src/queue/receipt.ts has the contract and the why): stores a message
// for one local account into its Maildir while the client sends it. The checks are those of the
// queue's mailbox channel (local.ts) moved to SMTP time, where a refusal is a reply instead of
// a DSN: a Delivered-To: loop is 550 5.4.6, a size over the account's limit 552 5.3.4, a store
// failure 451 4.3.0 (the client still has the message and retries). The bytes come from the
// network: the header section is scanned with a bound and nothing of it is logged.
import type { Settings } from "../config/settings.js";
import type { Account, Directory } from "../directory/directory.js";
import type { LocalReceipt, ReceiptSink } from "../queue/receipt.js";
import type { Log } from "../log/logger.js";
import type { Metrics } from "../log/metrics.js";
import { bounced, deferred, delivered, type Outcome } from "../proto/outcome.js";
import { REPLIES, type Reply } from "../proto/reply.js";
import type { MaildirStore, MaildirWriter } from "../store/maildir.js";
import type { Clock } from "../world/clock.js";
import { deliveredToValues, HeaderScan, logOutcome, mailboxPrepend, recordStored } from "./local.js";
import { rulesApply, serverRulesSet, type DeliveryRules } from "./rules-hook.js";
import { withMailboxUsage } from "./mailbox-usage.js";

export interface LocalReceiptOptions {
  readonly directory: Directory;
  readonly store: MaildirStore;
  readonly settings: Settings;
  readonly clock: Clock;
  /** Queue ids, so a message has one id space whichever path it takes. */
  readonly nextId: () => string;
  readonly metrics: Metrics;
  /** Tag LOCAL. */
  readonly log: Log;
  /** Accounts with rules are left to the queue's mailbox channel, which applies them. */
  readonly rules?: DeliveryRules;
}

const RELAY = "mailbox";

export function createLocalReceipt(o: LocalReceiptOptions): LocalReceipt {
  const directory = withMailboxUsage(o.directory, { store: o.store, allHere: true, log: o.log });
  /** The account, when this message can be settled here alone; else null (queue path). */
  const eligible = async (address: string): Promise<Account | null> => {
    let account: Account | null;
    try {
      account = await directory.getAccount(address);
    } catch {
      return null; // the queue path defers it and logs why
    }
    if (account === null || !account.enabled) return null;
    // rules need the whole message (account rules) or run at enqueue (server, cluster rules)
    if (o.rules && ((await rulesApply(o.rules, account)) || (await serverRulesSet(o.rules)))) return null;
    // Whether a message fits the quota is known only at its end; one that might not goes through
    // the queue, whose mailbox channel settles it as smtp.overQuota says.
    if (
      account.quotaBytes !== null &&
      account.usedBytes + o.settings.smtp.maxMessageSize > account.quotaBytes
    )
      return null;
    return account;
  };

  const sink = (
    log: Log,
    id: string,
    account: Account,
    w: MaildirWriter,
    orig: string | null,
    arrival: number,
  ) => {
    const scan = new HeaderScan();
    let scanned = false;
    let size = 0;
    const start = o.clock.now();
    const settle = (out: Outcome): Reply => {
      logOutcome(log, out, { id, to: account.address, orig_to: orig, arrival, start, now: o.clock.now() });
      if (out.kind === "delivered") o.metrics.recipientDelivered("local", o.clock.now() - arrival);
      return out.reply;
    };
    const refuse = async (out: Outcome): Promise<Reply> => {
      await w.abort();
      return settle(out);
    };
    const s: ReceiptSink = {
      id,
      write(chunk) {
        size += chunk.length;
        if (!scanned) scanned = scan.push(chunk);
        return w.write(chunk);
      },
      async end() {
        if (deliveredToValues(scan.header()).includes(account.address))
          return refuse(bounced(REPLIES.forwardingLoop, RELAY));
        if (account.maxMessageSize !== null && size > account.maxMessageSize)
          return refuse(bounced(REPLIES.messageTooBig, RELAY));
        let stored: { size: number };
        try {
          stored = await w.commit();
        } catch (e) {
          log.failure("mailbox write failed", {
            to: account.address,
            id,
            error: (e as NodeJS.ErrnoException).code ?? String(e),
          });
          return settle(deferred(REPLIES.mailboxWriteFailed, RELAY));
        }
        // Stored: the reply need not wait for the usage counter (batched per turn of the event
        // loop, and logged, not fatal, when it fails).
        void recordStored(directory, log, account, stored.size, o.clock.now());
        settle(delivered(REPLIES.deliveredMailbox, RELAY));
        return REPLIES.deliveredAs({ id });
      },
      abort: () => w.abort(),
    };
    return s;
  };

  return {
    async open(rcpt, returnPath, arrival, session) {
      const log = session === undefined ? o.log : o.log.with(session.id, session.remote);
      // A success DSN is the queue's to send (reports.ts).
      if (rcpt.notify !== null && rcpt.notify !== "NEVER" && rcpt.notify.includes("SUCCESS")) return null;
      const account = await eligible(rcpt.address);
      if (account === null) return null;
      let w: MaildirWriter;
      try {
        w = await o.store.begin(account.domain, account.localPart, mailboxPrepend(returnPath, account));
      } catch (e) {
        log.problem("mailbox open failed, queueing instead", {
          to: account.address,
          error: (e as NodeJS.ErrnoException).code ?? String(e),
        });
        return null;
      }
      return sink(log, o.nextId(), account, w, rcpt.original, arrival);
    },
  };
}
