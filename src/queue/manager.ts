// The queue manager: admits committed messages, decides when each pending recipient is tried and
// through which destination queue, hands jobs to the Deliverer, turns outcomes into recipient
// state (persisted before anything is acted on), retries, gives up at expiry, and sends DSNs from
// the null sender. Receiving and delivering meet only here.
//
// This file composes the parts and owns start/stop: entries.ts (messages in memory and on disk),
// admission.ts (new mail), timetable.ts (wake-ups), scheduler.ts (destination queues, concurrency,
// backoff), outcomes.ts (recipient state changes), reports.ts (DSNs), operator.ts (admin actions).
//
// Invariants: a recipient is in at most one job at a time (busy flag); a message leaves the spool
// only when every recipient is delivered or bounced and every report it needs is enqueued; the
// null sender never gets a report. Time comes from the injected Clock only: one timer for the
// earliest wake-up plus one per destination in backoff.
import type { Settings } from "../config/settings.js";
import type { Log } from "../log/logger.js";
import type { Metrics } from "../log/metrics.js";
import type { Clock } from "../world/clock.js";
import type { Random } from "../world/random.js";
import { createAdmission } from "./admission.js";
import { createContext } from "./context.js";
import { buildDsn, type DsnInput } from "./dsn.js";
import { createEntries, needsSettle, type Entry } from "./entries.js";
import { createHandOver, type HandOver } from "./handover.js";
import { createIdGenerator } from "./ids.js";
import { createOperator } from "./operator.js";
import { createOutcomes } from "./outcomes.js";
import { createReports } from "./reports.js";
import { createScheduler } from "./scheduler.js";
import { createTimetable } from "./timetable.js";
import type { Deliverer, Queue, Spool, StoredMessage } from "./types.js";

export interface QueueManagerOptions {
  readonly spool: Spool;
  readonly deliverer: Deliverer;
  readonly settings: Settings;
  readonly clock: Clock;
  readonly random: Random;
  /** Tag QUEUE. */
  readonly log: Log;
  readonly metrics: Metrics;
  readonly hostname: string;
  /** The DSN builder (defaults to dsn.ts). */
  readonly dsn?: (input: DsnInput) => Buffer;
  /**
   * Final addresses for a recipient of mail generated here (DSNs, forwards): received mail is
   * expanded at RCPT time, generated mail is not, so a report to a sender that is a local alias
   * would otherwise bounce at the mailbox and, coming from <>, be lost.
   */
  readonly expand?: (address: string) => Promise<readonly string[]>;
}

export type QueueManager = Queue & {
  /** Load the spool and resume every message. */
  start(): Promise<void>;
  /** Stop starting deliveries; resolves when those under way have finished and been recorded. */
  stop(): Promise<void>;
  /** Resolves when nothing is due now and nothing is in flight (tests drive a fake clock). */
  idle(): Promise<void>;
  /** A fresh queue id, for mail that is delivered at receipt and never queued. */
  nextId(): string;
  /** Take in another node's message with its id and recipient state (a take-over). */
  adopt(m: StoredMessage, message: Buffer): Promise<boolean>;
  /** Deliveries paused and the messages handed to another member (a drain, handover.ts). */
  readonly handOver: HandOver;
};

export function createQueueManager(o: QueueManagerOptions): QueueManager {
  const { spool, clock, random, log, metrics } = o;
  const q = o.settings.queue;
  const ctx = createContext({ spool, clock, random, log, metrics, q, local: o.settings.local });
  const nextId = createIdGenerator(clock, random);

  // The parts call each other in a cycle (a job's outcome settles the message, which may queue a
  // report, which is admitted and scheduled): the two back edges go through these closures.
  const entries = createEntries(ctx);
  const timetable = createTimetable(ctx, (e) => wakeUp(e));
  const scheduler = createScheduler(
    ctx,
    o.deliverer,
    timetable,
    (e, results, kind, opts) => outcomes.apply(e, results, kind, opts),
    (e) => {
      entries.forget(e);
      metrics.messageQuarantined?.();
    },
  );
  const admission = createAdmission(ctx, {
    entries,
    nextId,
    service: scheduler.service,
    expand: o.expand,
  });
  const reports = createReports(ctx, {
    entries,
    timetable,
    hostname: o.hostname,
    makeDsn: o.dsn ?? buildDsn,
    nextId,
    submit: admission.submit,
  });
  const outcomes = createOutcomes(ctx, entries, timetable, reports, scheduler.service);
  let started = false;
  const handOver = createHandOver(ctx, {
    entries,
    scheduler,
    wakeUp: (e) => wakeUp(e),
    settle: outcomes.settle,
    started: () => started,
  });

  /** Settle what must be saved or reported first, else schedule what is due. */
  function wakeUp(e: Entry): void {
    if (needsSettle(e)) ctx.track(outcomes.settle(e, []));
    else scheduler.service(e);
  }

  return {
    begin: () => (entries.byId.size >= q.maxMessages ? Promise.resolve("full" as const) : admission.begin()),
    submit: admission.submit,
    adopt: admission.adopt,
    handOver,
    size: () => entries.byId.size,
    ...createOperator(ctx, { entries, scheduler, wakeUp, settle: outcomes.settle }),

    async start() {
      const stored = await spool.open();
      for (const m of stored) entries.admit(m.envelope, m.state, m.recipients);
      started = true;
      // A node that starts drained (a drain asked for before it stopped) delivers nothing here.
      if (handOver.paused)
        return void log.major("queue manager started, paused", { messages: entries.byId.size });
      ctx.running = true;
      for (const e of [...entries.byId.values()]) wakeUp(e);
      log.major("queue manager started", { messages: entries.byId.size });
    },

    async stop() {
      started = false;
      ctx.running = false;
      timetable.cancel();
      scheduler.stop();
      await ctx.whenIdle();
      await spool.close();
      log.major("queue manager stopped", { messages: entries.byId.size });
    },

    idle: ctx.whenIdle,
    nextId,
  };
}
