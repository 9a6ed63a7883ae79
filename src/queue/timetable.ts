// When each message next needs attention: a heap of wake-up times (heap.ts) and one clock timer for
// the earliest. A message has at most one live wake-up (Entry.wakeAt): an earlier one replaces a
// later one, whose stale heap record is skipped when it comes up. Time comes from the injected
// Clock only; wake-ups already due run on the next microtask, not through the clock.
import type { TimerHandle } from "../world/clock.js";
import type { QueueContext } from "./context.js";
import type { Entry } from "./entries.js";
import { WakeHeap } from "./heap.js";

/** Longest single clock timer; longer waits re-arm (Node timers overflow past 2^31 ms). */
const MAX_TIMER_MS = 3_600_000;

export interface Timetable {
  /** Look at e again no later than `at`. */
  wake(e: Entry, at: number): void;
  /** Cancel the timer (the manager is stopping). */
  cancel(): void;
}

/** `due` is called for every entry whose wake-up time has come, while the manager runs. */
export function createTimetable(ctx: QueueContext, due: (e: Entry) => void): Timetable {
  const { clock } = ctx;
  const heap = new WakeHeap<Entry>();
  let armed: { at: number; handle: TimerHandle } | null = null;
  let draining = false;

  const arm = (): void => {
    if (!ctx.running || draining) return;
    const top = heap.peek();
    if (top === undefined) {
      armed?.handle.cancel();
      armed = null;
      return;
    }
    if (armed !== null && armed.at === top.at) return;
    armed?.handle.cancel();
    armed = null;
    const delay = top.at - clock.now();
    if (delay <= 0) {
      // Due already: run on the next microtask, not through the clock (a fake clock would wait).
      ctx.track(Promise.resolve().then(drain));
      return;
    }
    armed = { at: top.at, handle: clock.setTimeout(drain, Math.min(delay, MAX_TIMER_MS)) };
  };

  function drain(): void {
    armed = null;
    if (!ctx.running) return;
    const now = clock.now();
    draining = true;
    try {
      for (let top = heap.peek(); top !== undefined && top.at <= now; top = heap.peek()) {
        heap.pop();
        const e = top.item;
        if (e.gone || e.wakeAt !== top.at) continue;
        e.wakeAt = 0;
        due(e);
      }
    } finally {
      draining = false;
    }
    arm();
  }

  return {
    wake(e, at) {
      // An earlier wake-up recomputes everything anyway.
      if (e.wakeAt !== 0 && e.wakeAt <= at) return;
      e.wakeAt = at;
      heap.push(at, e);
      arm();
    },
    cancel() {
      armed?.handle.cancel();
      armed = null;
    },
  };
}
