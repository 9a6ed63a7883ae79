// The fence on a dynamic backend's mailbox writes: right before a message is renamed into an
// account's mailbox, the backend must still hold the account's lease, and for long enough
// (cluster.leaseMarginSeconds) that a pause between this check and the rename (a stalled
// disk, a stopped process) cannot outlast it. Otherwise another backend may already own the
// account, or be about to, and both would write one mailbox: the store is abandoned (the
// mailbox store's StoreFencedError, a 4xx for the sender) and its next owner takes the retry.
import type { Log } from "../log/logger.js";
import type { LeaseKeeper } from "./leases.js";

/** The MaildirStore fence: null when the account may be written now, else why not. */
export function leaseFence(
  keeper: Pick<LeaseKeeper, "heldFor">,
  marginMs: number,
  log: Log,
): (account: string) => string | null {
  return (account) => {
    if (keeper.heldFor(account, marginMs) !== null) return null;
    const why = `lease not held for another ${marginMs / 1000} s`;
    log.problem("mailbox write fenced off", { account, why });
    return why;
  };
}

/**
 * The margin the fence asks for: cluster.leaseMarginSeconds, but at most a quarter of the lease,
 * so that a holder renewing on time (every third of the lease, leases.ts) always has it.
 */
export function fenceMarginMs(cluster: {
  readonly leaseMarginSeconds: number;
  readonly leaseSeconds: number;
}): number {
  return Math.min(cluster.leaseMarginSeconds, cluster.leaseSeconds / 4) * 1000;
}
