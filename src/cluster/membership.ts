// This node's membership: it registers, heartbeats on the injected clock, and keeps a cached
// view of the other members refreshed on every beat, so routing decisions (placement, relay to
// "*", HAProxy config) read memory, not the state store. Whether a member is up is computed at
// read time from its last heartbeat, so a silent member goes down downAfterMs after its last
// beat even between refreshes; a member that left is down from the first refresh after.
//
// The state may be unreachable for a while (busy file, database restart): a failed beat is
// logged and the next one tries again. Nothing is thrown out of the timer. While it is
// unreachable the view is judged as of the moment it became so: the others' heartbeats cannot
// be read, which says nothing about them, so the members up then stay up (deliveries to them go
// on, and fail as temporary if one really is gone) until the state answers again.
//
// When the state offers subscribe() (LISTEN/NOTIFY on PostgreSQL, a change counter on SQLite),
// a member joining, leaving or changing its addresses is seen at once rather than at the next
// beat, and the cluster-wide settings are kept in memory here, re-read only when one changes:
// one read per change, not one per node per beat.
import type { Log } from "../log/logger.js";
import type { Clock, TimerHandle } from "../world/clock.js";
import type { ClusterState, MemberInfo, MemberRecord, Role } from "./state.js";

export interface MemberView extends MemberRecord {
  /** Heartbeat within downAfterMs and not left, as of the call. */
  readonly up: boolean;
}

export interface MembershipOptions {
  readonly state: ClusterState;
  readonly self: MemberInfo;
  readonly clock: Clock;
  readonly heartbeatMs: number;
  readonly downAfterMs: number;
  /** Tagged CLUSTER. */
  readonly log: Log;
  /** Messages in this node's queue, published with each heartbeat. */
  readonly queueSize: () => number;
}

export interface Membership {
  readonly self: MemberInfo;
  /** Members up now, by id; only those of a role when given. */
  live(role?: Role): MemberView[];
  /** Every known member with its up flag, by id. */
  all(): MemberView[];
  /** Called after a refresh that changed who is up, what a member advertises, or a setting. Returns unsubscribe. */
  onChange(fn: (members: readonly MemberView[]) => void): () => void;
  /** The cluster-wide settings as last read (at start, then on every change notification). */
  settings(): ReadonlyMap<string, string>;
  /** Called after the settings were re-read and differ. Returns unsubscribe. */
  onSettingsChange(fn: (settings: ReadonlyMap<string, string>) => void): () => void;
  /** Beat now (heartbeat and refresh, settings included) instead of waiting for the timer; never rejects. */
  refresh(): Promise<void>;
  /** Resolves when the beat in progress, if any, has finished. */
  settled(): Promise<void>;
  /** Stop beating and leave the cluster, so the others see this node down at once. */
  stop(): Promise<void>;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Registers (or logs why not and retries on the next beat) and starts the heartbeat. */
export async function startMembership(o: MembershipOptions): Promise<Membership> {
  const { state, self, clock, log } = o;
  if (!(o.heartbeatMs > 0 && o.downAfterMs > 0))
    throw new RangeError("heartbeatMs and downAfterMs must be > 0");
  let registered = false;
  let stopped = false;
  let cache: MemberRecord[] = [];
  let shape = "";
  let failing = false;
  let unreachableSince: number | null = null;
  let timer: TimerHandle | null = null;
  let inFlight: Promise<void> | null = null;
  const listeners = new Set<(members: readonly MemberView[]) => void>();
  const settingsListeners = new Set<(settings: ReadonlyMap<string, string>) => void>();
  let settings: ReadonlyMap<string, string> = new Map();
  let settingsShape = "";

  const view = (): MemberView[] => {
    const now = unreachableSince ?? clock.now();
    return cache.map((m) => ({ ...m, up: !m.left && now - m.lastHeartbeat <= o.downAfterMs }));
  };

  const notify = (members: MemberView[]): void => {
    const next = JSON.stringify(
      members.map((m) => [m.id, m.role, m.up, m.smtp, m.submissions, m.http, m.channel, m.submitMessages]),
    );
    if (next === shape) return;
    shape = next;
    for (const fn of listeners) {
      try {
        fn(members);
      } catch (e) {
        log.failure("membership listener failed", { error: errorText(e) });
      }
    }
  };

  const doBeat = async (): Promise<void> => {
    try {
      if (!registered) {
        await state.register(self);
        registered = true;
        log.major("joined the cluster", { node: self.id, role: self.role });
      } else if (!(await state.heartbeat(self.id, clock.now(), o.queueSize()))) {
        // Our row vanished or says we left (state reset, operator): join again unless stopping.
        if (stopped) return;
        await state.register(self);
        log.problem("membership record was missing, registered again", { node: self.id });
      }
      cache = await state.members();
      unreachableSince = null;
      if (failing) {
        failing = false;
        log.problem("cluster state reachable again");
      }
    } catch (e) {
      // Every beat while it lasts would flood the log: the first failure at problem level, the rest low.
      if (!failing) log.problem("cluster state unavailable, retrying each beat", { error: errorText(e) });
      else log.low("cluster state still unavailable", { error: errorText(e) });
      failing = true;
      unreachableSince ??= clock.now();
    }
    notify(view());
  };

  const beat = (): Promise<void> => {
    inFlight ??= doBeat().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = clock.setTimeout(() => {
      timer = null;
      void beat().then(schedule);
    }, o.heartbeatMs);
  };

  // Re-reads for change notifications: one at a time per kind, and one more if another change
  // came in meanwhile (so the last change is always read), however many notifications arrive.
  const rereader = (read: () => Promise<void>): (() => void) => {
    let running = false;
    let again = false;
    const go = (): void => {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      again = false;
      void read()
        // The beat reports an unreachable state; a failed re-read waits for the next change or beat.
        .catch((e: unknown) => log.info("re-read after a change failed", { error: errorText(e) }))
        .finally(() => {
          running = false;
          if (again) go();
        });
    };
    return go;
  };
  const rereadMembers = rereader(async () => {
    cache = await state.members();
    notify(view());
  });
  const readSettings = async (): Promise<void> => {
    const list = await state.listSettings();
    const next = JSON.stringify(list);
    if (next === settingsShape) return;
    settingsShape = next;
    settings = new Map(list.map((x) => [x.key, x.value]));
    for (const fn of settingsListeners) {
      try {
        fn(settings);
      } catch (e) {
        log.failure("settings listener failed", { error: errorText(e) });
      }
    }
  };
  const rereadSettings = rereader(readSettings);
  const unsubscribe =
    state.subscribe?.((change) => {
      if (change.kind === "members") rereadMembers();
      else if (change.kind === "settings") rereadSettings();
    }) ?? (() => undefined);

  await beat();
  await readSettings().catch((e: unknown) =>
    log.low("could not read the cluster settings", { error: errorText(e) }),
  );
  schedule();

  return {
    self,
    live: (role) => view().filter((m) => m.up && (role === undefined || m.role === role)),
    all: view,
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    settings: () => settings,
    onSettingsChange(fn) {
      settingsListeners.add(fn);
      return () => settingsListeners.delete(fn);
    },
    // An explicit refresh (an operator's change, a test) re-reads the settings too.
    refresh: async () => {
      if (stopped) return;
      await beat();
      await readSettings().catch((e: unknown) =>
        log.low("could not read the cluster settings", { error: errorText(e) }),
      );
    },
    settled: () => inFlight ?? Promise.resolve(),
    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe();
      timer?.cancel();
      timer = null;
      await (inFlight ?? Promise.resolve());
      listeners.clear();
      settingsListeners.clear();
      try {
        await state.leave(self.id);
        log.major("left the cluster", { node: self.id });
      } catch (e) {
        // The others will see us down downAfterMs after our last heartbeat instead.
        log.problem("could not record leaving the cluster", { error: errorText(e) });
      }
    },
  };
}
