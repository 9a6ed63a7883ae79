// What a node's start has opened so far, to be closed in reverse order when a later step fails
// (a port taken, a store unreadable): a failed start leaves no listener, store, lock or timer
// behind. Every step is tried even when an earlier one fails; the start's own error is the one
// reported, the cleanup's are logged.
import type { Log } from "../log/logger.js";

export class Teardown {
  private readonly steps: (() => Promise<void> | void)[] = [];

  /** Called after a part has started, with how to stop it. */
  add(stop: () => Promise<void> | void): void {
    this.steps.push(stop);
  }

  /** Stops what was added, newest first. */
  async run(log: Log): Promise<void> {
    for (const stop of this.steps.splice(0).reverse()) {
      try {
        await stop();
      } catch (e) {
        log.failure("cleanup after a failed start failed", { error: String(e) });
      }
    }
  }
}
