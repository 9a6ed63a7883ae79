// Quota usage that follows the mailbox. The directory's used_bytes only ever grew with what
// Mailyard stored, so deletions (POP3, Dovecot IMAP, files removed by hand) never lowered it. On a
// node that holds mailboxes (a single server, a backend), for every account with a quota the
// directory answers with the usage its Maildir++ maildirsize says (store/maildirsize.ts, which
// Dovecot keeps too), and the directory's figure is set to it, so members that cannot see the
// mailbox (a static cluster's other backends, CLI and WebAdmin listings) read it too. After a
// store, measure() takes the mailbox's figure again instead of adding. Accounts without a quota
// keep the plain count (nothing is enforced on them).
//
// Measuring and setting one account's figure is serialized within the process (a per-address
// chain), so a later measure is never overwritten by an earlier one; across processes each
// mailbox is written by one node at a time (its home backend, or a dynamic cluster's lease).
// A mailbox that does not exist here is empty on a single server; on a backend it may live on
// another backend, so the directory's figure stands. A mailbox that cannot be read is logged and
// the directory's figure stands: a quota check is never why mail is lost.
import type { Account, Directory, RecipientLookup } from "../directory/directory.js";
import type { Log } from "../log/logger.js";
import type { MaildirStore } from "../store/maildir.js";
import { oneAtATime } from "../store/one-at-a-time.js";

export interface MailboxUsageOptions {
  readonly store: Pick<MaildirStore, "usage">;
  /** true: every mailbox of the directory is here (a single server); a missing one is empty. */
  readonly allHere: boolean;
  /** Tag LOCAL. */
  readonly log: Log;
}

type Usable = Pick<Directory, "lookup" | "getAccount" | "addUsage" | "setUsage">;

export interface MeasuredUsage {
  /** Measure the account's mailbox and set the directory's figure to it; the account as measured. */
  measure(account: Account): Promise<Account>;
}

/** The directory `d` with lookup and getAccount answering the mailbox's usage (header). */
export function withMailboxUsage<D extends Usable>(d: D, o: MailboxUsageOptions): D & MeasuredUsage {
  const follow = (account: Account): Promise<Account> => {
    const quota = account.quotaBytes;
    if (quota === null) return Promise.resolve(account);
    return oneAtATime(`usage:${account.address}`, async () => {
      let bytes: number;
      try {
        const u = await o.store.usage(account.domain, account.localPart, quota);
        if (u === null && !o.allHere) return account;
        bytes = u?.bytes ?? 0;
      } catch (e) {
        o.log.problem("mailbox usage unreadable", { account: account.address, error: String(e) });
        return account;
      }
      try {
        const stored = await d.getAccount(account.address);
        if (stored !== null && stored.usedBytes !== bytes) await d.setUsage(account.address, bytes);
      } catch (e) {
        o.log.problem("usage not written back", { account: account.address, error: String(e) });
      }
      return { ...account, usedBytes: bytes };
    });
  };
  return {
    ...d,
    async lookup(address: string): Promise<RecipientLookup> {
      const r = await d.lookup(address);
      return r.kind === "account" ? { kind: "account", account: await follow(r.account) } : r;
    },
    async getAccount(address: string): Promise<Account | null> {
      const a = await d.getAccount(address);
      return a === null ? null : follow(a);
    },
    measure: follow,
  };
}
