// One poll under the entry's claim (store.ts claim), so two processes or nodes sharing the
// store never poll one entry at once (each would read the same UIDL memory and fetch the same
// messages). Which node polls an account's entries is already decided by the scheduler's owns
// (the account's home or lease holder); the claim covers what that cannot: views of the
// membership that disagree for a moment, a lease moving mid-poll, two processes on one file.
//
// Taken before the poll, renewed before each message it fetches (pollEntry's hold), released
// after. Another holder's live claim: "elsewhere", tried again after the entry's interval. A
// claim runs ttlMs past its last renewal, so a node that dies mid-poll holds the entry that
// long at most.
import type { Log } from "../../log/logger.js";
import type { Clock } from "../../world/clock.js";
import type { PollOutcome } from "./poll.js";
import type { RpopEntry, RpopStore } from "./store.js";

export interface ClaimOptions {
  readonly store: Pick<RpopStore, "claim" | "release">;
  /** This process, unique among everything sharing the store. */
  readonly holder: string;
  readonly clock: Clock;
  /** Longer than a poll takes between two renewals (one message fetched and submitted). */
  readonly ttlMs: number;
  /** Tag RPOP. */
  readonly log: Log;
}

export async function pollClaimed(
  entry: RpopEntry,
  o: ClaimOptions,
  poll: (hold: () => Promise<boolean>) => Promise<PollOutcome>,
): Promise<PollOutcome> {
  const take = (): Promise<boolean> => {
    const at = o.clock.now();
    return o.store.claim(entry.id, o.holder, at, at + o.ttlMs);
  };
  if (!(await take())) {
    o.log.low("entry being polled elsewhere", { entry: entry.id, account: entry.account });
    return { kind: "elsewhere" };
  }
  try {
    return await poll(take);
  } finally {
    // Not released (state unreachable): it expires after ttlMs.
    await o.store
      .release(entry.id, o.holder)
      .catch((e: unknown) => o.log.problem("rpop claim not released", { entry: entry.id, error: String(e) }));
  }
}
