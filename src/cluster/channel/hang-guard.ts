// Watching a backend while a delivery to it is in flight. A member that stops answering (a
// SIGSTOP, a stalled VM) keeps its sockets open: the kernel still completes connections and
// takes our bytes, so only the channel's reply timeout (channel.timeoutSeconds, minutes) would
// end the wait, and every delivery to it would hang that long. Its heartbeat lapses much sooner
// (cluster.downAfterSeconds): the guard looks at the member's liveness while the delivery runs
// and says when it has lapsed, so the client can drop the session and defer at once; the retry
// goes wherever placement points by then (in a dynamic cluster, the account's next owner).
import type { Clock, TimerHandle } from "../../world/clock.js";

/** How often a delivery in flight looks at its target's liveness, unless told (an in-memory read). */
export const LIVE_CHECK_MS = 500;

export interface HangGuard {
  /** Resolves once the target has been seen not live; stays pending otherwise. */
  readonly lapsed: Promise<void>;
  hasLapsed(): boolean;
  /** The delivery ended: stop looking. */
  stop(): void;
}

export function watchTarget(live: () => boolean, clock: Clock, everyMs = LIVE_CHECK_MS): HangGuard {
  let fired = false;
  let timer: TimerHandle | null = null;
  let fire = (): void => undefined;
  const lapsed = new Promise<void>((resolve) => (fire = resolve));
  const check = (): void => {
    timer = null;
    if (!live()) {
      fired = true;
      fire();
      return;
    }
    timer = clock.setTimeout(check, everyMs);
  };
  timer = clock.setTimeout(check, everyMs);
  return {
    lapsed,
    hasLapsed: () => fired,
    stop() {
      timer?.cancel();
      timer = null;
    },
  };
}
