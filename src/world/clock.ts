// Time as a dependency: production uses the system clock; tests drive a fake one so retry
// schedules, delay warnings and lease expiry are tested without waiting.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Run fn once after ms milliseconds (of this clock's time). Timers never keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return new NodeTimer(t);
  },
};

/** A handle with its method on the prototype: every session holds a few, so no closure each. */
class NodeTimer implements TimerHandle {
  constructor(private readonly t: NodeJS.Timeout) {}
  cancel(): void {
    clearTimeout(this.t);
  }
}
