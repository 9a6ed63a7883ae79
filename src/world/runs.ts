// Background work a module runs now and then: one run at a time, requests made during a run
// merged into one more run after it (so a burst of file events or member changes costs two
// runs, not one per event), and a repeat on the clock whose next wait starts only once a run
// has settled (so a slow run never overlaps the next).
import type { Clock, TimerHandle } from "./clock.js";

export interface Coalesced {
  /** Starts a run, or during one asks for one more after it; resolves when the runs are done. */
  run(): Promise<void>;
  /** The runs under way, if any (a stop awaits them). */
  readonly running: Promise<void> | null;
}

/** `work` run by run(); no further run once `stopped()`. */
export function coalesced(work: () => Promise<void>, stopped: () => boolean): Coalesced {
  let running: Promise<void> | null = null;
  let again = false;
  return {
    run() {
      if (running !== null) {
        again = true;
        return running;
      }
      running = (async () => {
        do {
          again = false;
          await work();
        } while (again && !stopped());
      })().finally(() => {
        running = null;
      });
      return running;
    },
    get running() {
      return running;
    },
  };
}

/** `tick` every `ms` of `clock`, each wait starting once the last tick has settled, until `stopped()`. */
export function repeatAfter(
  clock: Clock,
  ms: number,
  tick: () => Promise<unknown>,
  stopped: () => boolean,
): TimerHandle {
  let timer: TimerHandle | null = null;
  const arm = (): void => {
    if (stopped()) return;
    timer = clock.setTimeout(() => {
      void tick().finally(arm);
    }, ms);
  };
  arm();
  return { cancel: () => timer?.cancel() };
}
