// What a node's start has opened so far, to be closed in reverse order when a later step fails
// (a port taken, a store unreadable), or when the node stops: a failed start leaves no listener,
// store, lock or timer behind. Every step is tried even when an earlier one fails. After a
// failed start the start's own error is the one reported and the cleanup's are logged; at a
// stop the first error is thrown once every step has been tried.
import type { Log } from "../log/logger.js";

export class Teardown {
  private readonly steps: (() => Promise<void> | void)[] = [];

  /** Called after a part has started, with how to stop it. */
  add(stop: () => Promise<void> | void): void {
    this.steps.push(stop);
  }

  /** Stops what was added, newest first; with `log`, failures are logged, else the first is thrown. */
  async run(log?: Log): Promise<void> {
    let first: { error: unknown } | null = null;
    for (const stop of this.steps.splice(0).reverse()) {
      try {
        await stop();
      } catch (e) {
        if (log !== undefined) log.failure("cleanup after a failed start failed", { error: String(e) });
        else first ??= { error: e };
      }
    }
    if (first !== null) throw first.error;
  }
}
