// The work meter of one Sieve run. Header and body text are untrusted and large (a header may be
// up to smtp.maxHeaderBytes, a body up to smtp.maxMessageSize) while the interpreter runs on the
// node's one event loop, next to every SMTP session and /healthz. So every matcher counts its
// steps here (one step: one character looked at, per 32 pattern characters), and:
// - every SLICE steps the run awaits pause() (setImmediate in production, injectable for tests),
//   so no evaluation holds the loop for more than about a millisecond at a time;
// - past BUDGET steps the run stops with WorkLimit, which the interpreter turns into the
//   implicit keep plus a log line: a clear outcome for a message too costly to filter, never a
//   frozen node and never a lost message.
// Chosen over a worker thread for the matchers because it is deterministic (the same message and
// script always give the same outcome, whatever the load) and copies nothing.

export type Pause = () => Promise<void>;

/** Yields to the event loop: pending I/O (new connections, /healthz) runs before we go on. */
export const immediatePause: Pause = () => new Promise((resolve) => setImmediate(resolve));

/** Steps between two pauses: well under a millisecond of matching. */
export const SLICE = 50_000;
/** Steps one message may cost in all (about 20 × a full 256 KB header through 4 patterns). */
export const BUDGET = 20_000_000;

export class WorkLimit extends Error {
  constructor(readonly steps: number) {
    super(`rule evaluation stopped after ${steps} steps (limit ${BUDGET})`);
    this.name = "WorkLimit";
  }
}

export class WorkMeter {
  /** Steps charged so far. */
  used = 0;
  /** Times the run gave the event loop back. */
  pauses = 0;
  private nextPause: number;

  constructor(
    private readonly pauseFn: Pause = immediatePause,
    readonly budget = BUDGET,
    readonly slice = SLICE,
  ) {
    this.nextPause = slice;
  }

  /** Counts n steps; throws WorkLimit past the budget (before the work is done, when asked first). */
  charge(n: number): void {
    this.used += n;
    if (this.used > this.budget) throw new WorkLimit(this.used);
  }

  /** True when a slice is used up: the caller should await pause() at its next safe point. */
  get due(): boolean {
    return this.used >= this.nextPause;
  }

  async pause(): Promise<void> {
    if (!this.due) return;
    this.nextPause = this.used + this.slice;
    this.pauses++;
    await this.pauseFn();
  }
}
