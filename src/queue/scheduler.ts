// The scheduler: turns a message's due recipients into delivery jobs, one per route and at most
// maxRecipientsPerTransaction recipients each, queues them per destination and hands them to the
// Deliverer within the global and per-destination concurrency limits, destinations taking turns.
// A destination that fails as a whole is backed off: its queued jobs are deferred until the
// backoff ends, after which one job at a time probes it until something gets through.
//
// Invariants: a recipient is in at most one job at a time (Entry.busy); a job is re-checked at
// dispatch, since its message may have been held, deleted or rejected while it waited. Outcomes
// from the Deliverer are trusted to be values; a Deliverer that throws or miscounts is treated as
// a temporary failure.
import type { DeliveryKind } from "../log/metrics.js";
import { deferred, type Outcome } from "../proto/outcome.js";
import { REPLIES, type Reply } from "../proto/reply.js";
import type { TimerHandle } from "../world/clock.js";
import type { QueueContext } from "./context.js";
import type { Entry } from "./entries.js";
import { Fifo } from "./fifo.js";
import { retryDelayMs } from "./retry.js";
import type { Timetable } from "./timetable.js";
import type { Deliverer, Route } from "./types.js";

const INTERNAL_FAILURE = REPLIES.deliveryLayerFailed;
const ROUTE_FAILURE = REPLIES.routeUndecided;

export type Result = readonly [index: number, outcome: Outcome];

export interface ApplyOptions {
  /** The recipient was really tried (not deferred by a backoff or a routing failure). */
  readonly countAttempt: boolean;
  /** Next attempt no sooner than this (a destination's backoff end). */
  readonly nextAt?: number;
}

/** Where outcomes go once a job is done (outcomes.ts). */
export type ApplyOutcomes = (
  e: Entry,
  results: readonly Result[],
  kind: DeliveryKind,
  opts: ApplyOptions,
) => Promise<void>;

export interface Scheduler {
  /** Queue every due recipient of e for delivery and set the wake-up for the others. */
  readonly service: (e: Entry) => void;
  /** End the destination's backoff now (the operator asked for a retry). */
  retryDestination(key: string): void;
  /** Cancel backoff timers (the manager is stopping). */
  stop(): void;
  /** Drop the jobs waiting for a slot, their recipients no longer busy (deliveries paused). */
  unqueue(): void;
}

interface Job {
  readonly entry: Entry;
  readonly route: Route;
  readonly idxs: number[];
}

interface Dest {
  readonly key: string;
  readonly jobs: Fifo<Job>;
  inFlight: number;
  /** In the runnable round-robin list. */
  listed: boolean;
  backoffUntil: number;
  backoffReply: Reply;
  backoffRelay: string;
  /** Consecutive destination-scope failures: the backoff grows like a retry schedule. */
  failures: number;
  /** After a backoff one job at a time probes the destination until something gets through. */
  probing: boolean;
  timer: TimerHandle | null;
}

export function createScheduler(
  ctx: QueueContext,
  deliverer: Deliverer,
  timetable: Timetable,
  applyOutcomes: ApplyOutcomes,
  /** The message's bytes failed their check and the spool quarantined it: it leaves the queue. */
  quarantined: (e: Entry) => void,
): Scheduler {
  const { spool, clock, random, log, q } = ctx;
  // ctx.policy, read at each use: managed settings may change the retry keys while we run.
  const dests = new Map<string, Dest>();
  const runnable = new Fifo<Dest>();
  let inFlight = 0;

  function service(e: Entry): void {
    if (!ctx.running || e.gone || e.state === "held") return;
    const now = clock.now();
    const due: number[] = [];
    let next = Infinity;
    e.recipients.forEach((r, i) => {
      if (r.status !== "pending" || e.busy[i] === true) return;
      if (r.nextAttempt <= now) due.push(i);
      else next = Math.min(next, r.nextAttempt);
    });
    if (next !== Infinity) timetable.wake(e, next);
    if (due.length === 0) return;
    for (const i of due) e.busy[i] = true;
    if (due.every((i) => e.routes[i] !== undefined)) enqueue(e, due);
    else ctx.track(routeThenEnqueue(e, due));
  }

  async function routeThenEnqueue(e: Entry, due: number[]): Promise<void> {
    const failed: Result[] = [];
    await Promise.all(
      due
        .filter((i) => e.routes[i] === undefined)
        .map(async (i) => {
          try {
            e.routes[i] = await deliverer.route(e.envelope.recipients[i]!);
          } catch (err) {
            log.failure("routing failed", {
              id: e.envelope.id,
              to: e.envelope.recipients[i]?.address,
              error: String(err),
            });
            failed.push([i, deferred(ROUTE_FAILURE, "none", "recipient")]);
          }
        }),
    );
    enqueue(
      e,
      due.filter((i) => e.routes[i] !== undefined),
    );
    if (failed.length > 0) await applyOutcomes(e, failed, "remote", { countAttempt: true });
  }

  function destFor(key: string): Dest {
    let d = dests.get(key);
    if (d === undefined) {
      d = {
        key,
        jobs: new Fifo<Job>(),
        inFlight: 0,
        listed: false,
        backoffUntil: 0,
        backoffReply: INTERNAL_FAILURE,
        backoffRelay: "none",
        failures: 0,
        probing: false,
        timer: null,
      };
      dests.set(key, d);
    }
    return d;
  }

  // A destination with nothing queued, nothing in flight and no backoff running is forgotten (its
  // failure count with it), so the map does not grow with every domain ever seen.
  const forgetIfUnused = (d: Dest): void => {
    if (d.jobs.length === 0 && d.inFlight === 0 && d.timer === null && !d.listed) dests.delete(d.key);
  };

  const canRun = (d: Dest): boolean =>
    d.jobs.length > 0 && d.inFlight < (d.probing ? 1 : q.maxPerDestination) && d.backoffUntil <= clock.now();

  const enlist = (d: Dest): void => {
    if (!d.listed && canRun(d)) {
      d.listed = true;
      runnable.push(d);
    }
  };

  function enqueue(e: Entry, idxs: number[]): void {
    if (idxs.length === 0) return;
    const groups = new Map<string, { route: Route; idxs: number[] }>();
    for (const i of idxs) {
      const route = e.routes[i]!;
      let g = groups.get(route.key);
      if (g === undefined) groups.set(route.key, (g = { route, idxs: [] }));
      g.idxs.push(i);
    }
    const now = clock.now();
    for (const { route, idxs: all } of groups.values()) {
      const d = destFor(route.key);
      for (let k = 0; k < all.length; k += q.maxRecipientsPerTransaction) {
        const chunk = all.slice(k, k + q.maxRecipientsPerTransaction);
        if (d.backoffUntil > now) ctx.track(postpone({ entry: e, route, idxs: chunk }, d));
        else d.jobs.push({ entry: e, route, idxs: chunk });
      }
      enlist(d);
    }
    pump();
  }

  function pump(): void {
    while (ctx.running && inFlight < q.maxConcurrency) {
      const d = runnable.shift();
      if (d === undefined) break;
      d.listed = false;
      if (!canRun(d)) {
        forgetIfUnused(d);
        continue;
      }
      const job = d.jobs.shift()!;
      const live = prepare(job);
      if (live !== null) {
        inFlight++;
        d.inFlight++;
        ctx.track(runJob(d, live));
      }
      // Back of the line: destinations take turns.
      enlist(d);
    }
  }

  /** What is left of a queued job at dispatch time (the message may be held, deleted, rejected). */
  function prepare(job: Job): Job | null {
    const e = job.entry;
    if (e.gone) return null;
    const live: number[] = [];
    for (const i of job.idxs) {
      if (e.state === "active" && e.recipients[i]?.status === "pending") live.push(i);
      else e.busy[i] = false;
    }
    return live.length > 0 ? { ...job, idxs: live } : null;
  }

  async function runJob(d: Dest, job: Job): Promise<void> {
    const e = job.entry;
    let outcomes: readonly Outcome[] = [];
    let corrupt: string | null = null;
    try {
      // Never hand on bytes that are not the ones received (a flipped bit on disk).
      corrupt = await spool.verify(e.envelope.id);
      if (corrupt === null)
        outcomes = await deliverer.deliver({
          envelope: e.envelope,
          recipients: job.idxs.map((index) => ({ index, rcpt: e.envelope.recipients[index]! })),
          route: job.route,
          body: () => spool.body(e.envelope.id),
        });
    } catch (err) {
      log.failure("deliverer failed", { id: e.envelope.id, route: job.route.key, error: String(err) });
    } finally {
      inFlight--;
      d.inFlight--;
    }
    if (corrupt !== null) {
      quarantined(e);
      enlist(d);
      pump();
      forgetIfUnused(d);
      return;
    }
    if (outcomes.length !== job.idxs.length && outcomes.length > 0)
      log.failure("deliverer returned wrong outcome count", { id: e.envelope.id, route: job.route.key });
    const results: Result[] = job.idxs.map((i, k) => [
      i,
      outcomes[k] ?? deferred(INTERNAL_FAILURE, "none", "message"),
    ]);

    const siteDown = results.find(([, r]) => r.kind === "deferred" && r.scope === "destination");
    if (siteDown !== undefined) backoff(d, siteDown[1]);
    else {
      d.failures = 0;
      d.probing = false;
    }
    enlist(d);
    pump();
    await applyOutcomes(e, results, job.route.kind, { countAttempt: true });
    forgetIfUnused(d);
  }

  /** Don't hammer a dead host: stop sending there until the backoff ends, and push back waiters. */
  function backoff(d: Dest, why: Outcome): void {
    d.failures++;
    const delay = retryDelayMs(ctx.policy, d.failures, random);
    d.backoffUntil = clock.now() + delay;
    d.backoffReply = why.reply;
    d.backoffRelay = why.relay;
    d.probing = true;
    d.timer?.cancel();
    d.timer = clock.setTimeout(() => {
      d.timer = null;
      enlist(d);
      pump();
      forgetIfUnused(d);
    }, delay);
    for (const job of d.jobs.drain()) ctx.track(postpone(job, d));
  }

  function postpone(job: Job, d: Dest): Promise<void> {
    const why = deferred(d.backoffReply, d.backoffRelay, "destination");
    return applyOutcomes(
      job.entry,
      job.idxs.map((i) => [i, why] as const),
      job.route.kind,
      { countAttempt: false, nextAt: d.backoffUntil },
    );
  }

  return {
    service,
    retryDestination(key) {
      const d = dests.get(key);
      if (d !== undefined && d.backoffUntil > 0) {
        d.backoffUntil = 0;
        d.timer?.cancel();
        d.timer = null;
        enlist(d);
      }
    },
    stop() {
      for (const d of dests.values()) {
        d.timer?.cancel();
        d.timer = null;
      }
    },
    unqueue() {
      for (const d of dests.values())
        for (const job of d.jobs.drain()) for (const i of job.idxs) job.entry.busy[i] = false;
    },
  };
}
