// Mail queued for an account that has since been removed: its delivery is a permanent 5.1.1
// (one DSN, as a single server's mailbox channel answers), not a "no home backend" deferral
// until the message expires. The channel placement feeds says nothing about whether an
// account still exists (a removed account simply has no home, or no lease), so this asks the
// directory first. Only a definite answer bounces: a directory that cannot be asked (state
// down, no backend answers) leaves the job to the channel, which defers it or delivers it.
import type { RecipientLookup } from "../directory/directory.js";
import { bounced, type Outcome } from "../proto/outcome.js";
import { REPLIES } from "../proto/reply.js";
import { perAccount, type Channel } from "./router.js";

/** What an address is now; rejects when that cannot be known. */
export type AccountLookup = (address: string) => Promise<RecipientLookup>;

/** True when the lookup says the address is gone: neither an account nor an alias now. */
export const isRemoved = (found: RecipientLookup): boolean =>
  found.kind === "unknown" || found.kind === "remote";

/** Recipients of a local job whose account no longer exists are bounced 5.1.1; others go on. */
export function withRemovedAccounts(channel: Channel, lookup: AccountLookup): Channel {
  return perAccount(async (address, job): Promise<Outcome[]> => {
    const found = await lookup(address).catch(() => null);
    if (found !== null && isRemoved(found))
      return job.recipients.map(() => bounced(REPLIES.unknownUser, "none"));
    return channel.deliver(job);
  });
}
