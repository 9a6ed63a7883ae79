// What every part of the queue manager shares: the injected world, the queue settings and retry
// policy (recomputed when managed settings change the retry keys, so parts read ctx.policy at
// each use, never once at creation), whether the manager is running, and the count of background
// tasks that stop() and idle() wait for. Only manager.ts sets `running`; the other parts read it
// before starting anything.
import type { Settings } from "../config/settings.js";
import type { Log } from "../log/logger.js";
import type { Metrics } from "../log/metrics.js";
import type { Clock } from "../world/clock.js";
import type { Random } from "../world/random.js";
import { retryPolicy, type RetryPolicy } from "./retry.js";
import type { Spool } from "./types.js";

export interface QueueContext {
  readonly spool: Spool;
  readonly clock: Clock;
  readonly random: Random;
  /** Tag QUEUE. */
  readonly log: Log;
  readonly metrics: Metrics;
  /** The node's queue settings object: the retry keys and limits in it may change live. */
  readonly q: Settings["queue"];
  /** The node's local delivery settings (local.overQuotaGiveUpHours, read at each use). */
  readonly local: Settings["local"];
  /** The retry policy of `q` as it is now. */
  readonly policy: RetryPolicy;
  /** Between start() and stop(): only then are wake-ups and deliveries started. */
  running: boolean;
  /** Follow a background task: its failure is logged, and whenIdle() waits for it. */
  track(p: Promise<unknown>): void;
  /** Resolves when no tracked task is left. */
  readonly whenIdle: () => Promise<void>;
}

export type ContextBase = Omit<QueueContext, "running" | "track" | "whenIdle" | "policy">;

export function createContext(base: ContextBase): QueueContext {
  let ops = 0;
  let idleWaiters: (() => void)[] = [];
  let policyKey = "";
  let policy: RetryPolicy | null = null;
  const q = base.q;
  return {
    ...base,
    get policy(): RetryPolicy {
      const key = JSON.stringify([
        q.firstRetrySeconds,
        q.maxRetrySeconds,
        q.maxLifetimeSeconds,
        q.delayWarningSeconds,
      ]);
      if (policy === null || key !== policyKey) {
        policy = retryPolicy(q);
        policyKey = key;
      }
      return policy;
    },
    running: false,
    track(p) {
      ops++;
      void p
        .catch((e: unknown) => base.log.failure("queue task failed", { error: String(e) }))
        .finally(() => {
          if (--ops === 0) {
            const ws = idleWaiters;
            idleWaiters = [];
            for (const w of ws) w();
          }
        });
    },
    whenIdle: () =>
      ops === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve)),
  };
}
