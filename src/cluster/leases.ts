// The owning side of dynamic-cluster leases, on a backend: open(address) takes the account's
// lease (or finds it is ours), a timer renews held leases every leaseMs/3 while they are in use
// and gives back those idle longer than idleMs. A renewal refused by the state means another
// backend took the account over (we were presumed dead): the lease is dropped at once and
// owns() turns false, which the store checks before it writes, so two backends never write one
// mailbox. owns() also turns false when the lease runs out locally without a renewal (state
// unreachable), since from then on another backend may take it.
//
// Every state call for one account runs in order (a per-account chain): a release and a new
// open racing for the same account must not reorder, or the state would drop a lease we
// believe we hold.
import type { Log } from "../log/logger.js";
import type { Clock, TimerHandle } from "../world/clock.js";
import { accountKey, isLease, type ClusterState, type Lease } from "./state.js";

export interface LeaseKeeperOptions {
  readonly state: ClusterState;
  readonly nodeId: string;
  readonly clock: Clock;
  readonly leaseMs: number;
  /** A lease not opened for this long is released. */
  readonly idleMs: number;
  /** Tagged CLUSTER. */
  readonly log: Log;
}

export type OpenResult =
  | { readonly ok: true; readonly token: number }
  /** owner: the node holding it, or null when the state could not be asked (reason says why). */
  | { readonly ok: false; readonly owner: string | null; readonly reason: string };

export interface HeldLease extends Lease {
  /** Last open() of the account. */
  readonly lastUsed: number;
}

export interface LeaseKeeper {
  /** Take or confirm the account's lease and mark it in use. Never rejects. */
  open(address: string): Promise<OpenResult>;
  /** True while we hold an unexpired lease on the account: check it right before storing. */
  owns(address: string): boolean;
  /** The lease we hold on the account if it is good for at least marginMs more, else null. */
  heldFor(address: string, marginMs: number): Lease | null;
  release(address: string): Promise<void>;
  held(): HeldLease[];
  /** Resolves when the renewal round in progress, if any, has finished. */
  settled(): Promise<void>;
  /** Stop renewing and release every lease. */
  stop(): Promise<void>;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function createLeaseKeeper(o: LeaseKeeperOptions): LeaseKeeper {
  const { state, clock, log } = o;
  if (!(Number.isSafeInteger(o.leaseMs) && o.leaseMs >= 3))
    throw new RangeError("leaseMs must be an integer >= 3");
  if (!(o.idleMs >= 0)) throw new RangeError("idleMs must be >= 0");
  const renewEvery = Math.floor(o.leaseMs / 3);
  const held = new Map<string, { lease: Lease; lastUsed: number }>();
  const chains = new Map<string, Promise<void>>();
  let timer: TimerHandle | null = null;
  let round: Promise<void> | null = null;
  let stopped = false;

  const serial = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const result = (chains.get(key) ?? Promise.resolve()).then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    chains.set(key, tail);
    void tail.then(() => {
      if (chains.get(key) === tail) chains.delete(key);
    });
    return result;
  };

  const giveBack = async (key: string): Promise<void> => {
    const h = held.get(key);
    if (h === undefined) return;
    // Forget it first: from here on open() must go to the state, after this release.
    held.delete(key);
    try {
      if (await state.releaseLease(h.lease))
        log.low("lease released", { account: key, token: h.lease.token });
    } catch (e) {
      // It runs out by itself after leaseMs.
      log.problem("could not release lease", { account: key, error: errorText(e) });
    }
  };

  const renewOrRelease = async (key: string): Promise<void> => {
    const h = held.get(key);
    if (h === undefined) return;
    const now = clock.now();
    if (now - h.lastUsed > o.idleMs) return giveBack(key);
    try {
      const renewed = await state.renewLease(h.lease, now, o.leaseMs);
      if (held.get(key) !== h) return;
      if (renewed === null) {
        held.delete(key);
        log.problem("lease lost to another node, no longer writing to the account", {
          account: key,
          token: h.lease.token,
        });
      } else {
        h.lease = renewed;
      }
    } catch (e) {
      // Kept: owns() turns false when it runs out, and the next round tries again.
      log.problem("could not renew lease", { account: key, error: errorText(e) });
    }
  };

  const schedule = (): void => {
    if (stopped || timer !== null) return;
    timer = clock.setTimeout(() => {
      round = Promise.all([...held.keys()].map((key) => serial(key, () => renewOrRelease(key)))).then(() => {
        round = null;
        timer = null;
        if (held.size > 0) schedule();
      });
    }, renewEvery);
  };

  const acquire = async (key: string): Promise<OpenResult> => {
    if (stopped) return { ok: false, owner: null, reason: "stopping" };
    const now = clock.now();
    try {
      const r = await state.acquireLease(key, o.nodeId, now, o.leaseMs);
      if (!isLease(r)) {
        if (held.delete(key)) log.problem("lease lost to another node", { account: key, owner: r.heldBy });
        return { ok: false, owner: r.heldBy, reason: `account is open on ${r.heldBy}` };
      }
      const before = held.get(key);
      if (before === undefined || before.lease.token !== r.token) {
        log.low("lease acquired", { account: key, token: r.token });
      }
      held.set(key, { lease: r, lastUsed: now });
      schedule();
      return { ok: true, token: r.token };
    } catch (e) {
      return { ok: false, owner: null, reason: `cluster state unavailable: ${errorText(e)}` };
    }
  };

  return {
    open(address) {
      const key = accountKey(address);
      const h = held.get(key);
      const now = clock.now();
      // Fast path while comfortably inside the lease; near its end, renew through the state.
      if (h !== undefined && !stopped && h.lease.expiresAt - now > o.leaseMs / 2) {
        h.lastUsed = now;
        return Promise.resolve({ ok: true, token: h.lease.token });
      }
      return serial(key, () => acquire(key));
    },
    owns(address) {
      const h = held.get(accountKey(address));
      return h !== undefined && clock.now() < h.lease.expiresAt;
    },
    heldFor(address, marginMs) {
      const h = held.get(accountKey(address));
      return h !== undefined && clock.now() + marginMs < h.lease.expiresAt ? h.lease : null;
    },
    release: (address) => {
      const key = accountKey(address);
      return serial(key, () => giveBack(key));
    },
    held: () => [...held.values()].map((h) => ({ ...h.lease, lastUsed: h.lastUsed })),
    settled: () => round ?? Promise.resolve(),
    async stop() {
      stopped = true;
      timer?.cancel();
      timer = null;
      await (round ?? Promise.resolve());
      await Promise.all([...held.keys()].map((key) => serial(key, () => giveBack(key))));
    },
  };
}
