// A backend's mailboxes in a dynamic cluster: any backend may open any account, but only one at
// a time, so before storing this backend takes (or confirms) the account's ownership lease and
// checks it still holds it right before the write. An account open on another backend, or a
// state that cannot be asked, defers the recipients (the sender retries, and by then placement
// points at the owner or the lease has run out); nothing is bounced for it.
import type { LeaseKeeper } from "../cluster/leases.js";
import { deferred, type Outcome } from "../proto/outcome.js";
import { REPLIES } from "../proto/reply.js";
import { perAccount, type Channel } from "./router.js";

export interface LeasedMailboxOptions {
  readonly keeper: Pick<LeaseKeeper, "open" | "owns">;
  /** The Maildir channel the accounts are stored through. */
  readonly mailbox: Channel;
}

export function createLeasedMailbox(o: LeasedMailboxOptions): Channel {
  return perAccount(async (address, job): Promise<Outcome[]> => {
    const held = await o.keeper.open(address);
    if (!held.ok || !o.keeper.owns(address)) {
      const why = held.ok ? REPLIES.notHostedHere : REPLIES.accountHeld({ reason: held.reason });
      return job.recipients.map(() => deferred(why, "mailbox", "recipient"));
    }
    return o.mailbox.deliver(job);
  });
}
