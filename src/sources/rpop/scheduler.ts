// When each RPOP entry is polled. Every entry is polled every max(intervalSeconds,
// rpop.minIntervalSeconds); a poll that left messages behind (the per-poll bounds) is followed
// by another at once. At most maxConcurrent polls run at a time, never two for one entry.
//
// Back-off, exponential and capped at maxBackoffMs, never shorter than the entry's interval:
// - a failing host (cannot connect, TLS, broken connection) backs off as a host: every entry on
//   that host:port waits, so one dead server costs one connection attempt per back-off;
// - a failing entry (server refused STLS, no UIDL, our submit refused) backs off alone;
// - refused credentials back off from authBackoffMs (longer) and are logged as a problem each
//   time, so an operator sees a wrong password without the remote server being hammered.
// Entries are reloaded from the store every refreshMs and on refresh() (the admin API calls it),
// so entries added on another node sharing the state are picked up. Time is the injected
// clock's: tests drive the schedule and the back-off without waiting.
import type { Log } from "../../log/logger.js";
import type { Clock, TimerHandle } from "../../world/clock.js";
import type { PollOutcome } from "./poll.js";
import type { RpopEntry, RpopStore } from "./store.js";

export interface SchedulerOptions {
  readonly store: Pick<RpopStore, "list">;
  readonly clock: Clock;
  readonly poll: (entry: RpopEntry) => Promise<PollOutcome>;
  /** Whether this node polls an account's entries (its home in a cluster), asked at each poll; default all. */
  readonly owns?: (account: string) => Promise<boolean>;
  readonly maxConcurrent: number;
  readonly minIntervalMs: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly authBackoffMs: number;
  readonly refreshMs: number;
  /** Tag RPOP. */
  readonly log: Log;
}

export interface EntryStatus {
  readonly nextAt: number;
  readonly failures: number;
  readonly running: boolean;
  readonly lastError: string | null;
}

export interface RpopScheduler {
  /** Load the entries and start polling (the first polls are due at once). */
  start(): Promise<void>;
  /** Reload the entries now (one was added or removed). */
  refresh(): Promise<void>;
  status(id: string): EntryStatus | null;
  /** Stop starting polls; resolves when the running ones have ended. */
  stop(): Promise<void>;
}

interface State {
  entry: RpopEntry;
  nextAt: number;
  failures: number;
  running: boolean;
  lastError: string | null;
  /** Removed from the store while its poll ran: forgotten when the poll ends. */
  removed?: boolean;
}

/** Exponential back-off after `failures` failures, capped, never under the interval. */
export function backoff(failures: number, baseMs: number, maxMs: number, intervalMs: number): number {
  const exp = baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30);
  return Math.max(intervalMs, Math.min(exp, maxMs));
}

export function createRpopScheduler(o: SchedulerOptions): RpopScheduler {
  const states = new Map<string, State>();
  const hosts = new Map<string, { failures: number; nextAt: number }>();
  const running = new Set<Promise<void>>();
  let timer: TimerHandle | null = null;
  let refreshTimer: TimerHandle | null = null;
  let stopped = false;
  const hostKey = (e: RpopEntry): string => `${e.host}:${e.port}`;
  const interval = (e: RpopEntry): number => Math.max(e.intervalSeconds * 1000, o.minIntervalMs);

  const dueAt = (s: State): number => Math.max(s.nextAt, hosts.get(hostKey(s.entry))?.nextAt ?? 0);

  const finished = (s: State, out: PollOutcome): void => {
    const now = o.clock.now();
    const e = s.entry;
    const every = interval(e);
    s.running = false;
    if (out.kind === "elsewhere") {
      s.nextAt = now + every;
      return;
    }
    if (out.kind === "ok") {
      s.failures = 0;
      s.lastError = null;
      hosts.delete(hostKey(e));
      s.nextAt = now + (out.more ? 0 : every);
      o.log.low("poll done", {
        entry: e.id,
        account: e.account,
        fetched: out.fetched,
        deleted: out.deleted,
        skipped: out.skipped,
        more: out.more,
      });
      return;
    }
    s.lastError = out.error;
    if (out.fault === "host") {
      const h = hosts.get(hostKey(e)) ?? { failures: 0, nextAt: 0 };
      // Another entry's poll of this host failed at the same time: one failure, one back-off.
      if (h.nextAt > now) {
        s.nextAt = h.nextAt;
        return;
      }
      h.failures++;
      h.nextAt = now + backoff(h.failures, o.backoffMs, o.maxBackoffMs, every);
      hosts.set(hostKey(e), h);
      s.nextAt = h.nextAt;
      o.log.problem("remote host failing, backing off", {
        entry: e.id,
        remote: hostKey(e),
        failures: h.failures,
        retryInMs: h.nextAt - now,
        error: out.error,
      });
      return;
    }
    hosts.delete(hostKey(e));
    s.failures++;
    const base = out.fault === "auth" ? o.authBackoffMs : o.backoffMs;
    s.nextAt = now + backoff(s.failures, base, o.maxBackoffMs, every);
    o.log.problem(out.fault === "auth" ? "remote login refused, backing off" : "poll failed, backing off", {
      entry: e.id,
      account: e.account,
      remote: hostKey(e),
      fault: out.fault,
      failures: s.failures,
      retryInMs: s.nextAt - now,
      error: out.error,
    });
  };

  const launch = (s: State): void => {
    s.running = true;
    const here = o.owns === undefined ? Promise.resolve(true) : o.owns(s.entry.account);
    const p = here
      .then((mine): Promise<PollOutcome> => (mine ? o.poll(s.entry) : Promise.resolve({ kind: "elsewhere" })))
      .catch((e: unknown): PollOutcome => ({ kind: "failed", fault: "entry", error: String(e), fetched: 0 }))
      .then((out) => finished(s, out))
      .finally(() => {
        running.delete(p);
        if (s.removed === true) states.delete(s.entry.id);
        schedule();
      });
    running.add(p);
  };

  function schedule(): void {
    timer?.cancel();
    timer = null;
    if (stopped) return;
    const now = o.clock.now();
    const busyHosts = new Set([...states.values()].filter((s) => s.running).map((s) => hostKey(s.entry)));
    // A backed-off host is tried by one entry at a time: the others wait for that poll to end.
    const blocked = (s: State): boolean =>
      (hosts.get(hostKey(s.entry))?.failures ?? 0) > 0 && busyHosts.has(hostKey(s.entry));
    const waiting = [...states.values()].filter((s) => !s.running).sort((a, b) => dueAt(a) - dueAt(b));
    for (const s of waiting) {
      if (running.size >= o.maxConcurrent) break;
      if (dueAt(s) > now) break;
      if (blocked(s)) continue;
      busyHosts.add(hostKey(s.entry));
      launch(s);
    }
    // With every slot taken, the next poll to end calls schedule() again.
    if (running.size >= o.maxConcurrent) return;
    const next = [...states.values()].filter((s) => !s.running && !blocked(s)).map(dueAt);
    if (next.length === 0) return;
    const at = Math.min(...next);
    if (at <= now) return;
    timer = o.clock.setTimeout(schedule, at - now);
  }

  const load = async (): Promise<void> => {
    const entries = await o.store.list();
    const mine = entries;
    const now = o.clock.now();
    const ids = new Set(mine.map((e) => e.id));
    for (const [id, s] of [...states]) {
      if (ids.has(id)) continue;
      if (s.running) s.removed = true;
      else states.delete(id);
    }
    for (const e of mine) {
      const s = states.get(e.id);
      if (s === undefined)
        states.set(e.id, { entry: e, nextAt: now, failures: 0, running: false, lastError: null });
      else s.entry = e;
    }
  };

  const refresh = async (): Promise<void> => {
    try {
      await load();
    } catch (e) {
      o.log.problem("rpop entries unreadable", { error: String(e) });
    }
    schedule();
  };

  const periodic = (): void => {
    if (stopped) return;
    refreshTimer = o.clock.setTimeout(() => {
      void refresh().finally(periodic);
    }, o.refreshMs);
  };

  return {
    async start() {
      await refresh();
      periodic();
    },
    refresh,
    status(id) {
      const s = states.get(id);
      if (s === undefined) return null;
      return { nextAt: dueAt(s), failures: s.failures, running: s.running, lastError: s.lastError };
    },
    async stop() {
      stopped = true;
      timer?.cancel();
      refreshTimer?.cancel();
      await Promise.all([...running]);
    },
  };
}
