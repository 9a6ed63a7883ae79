// Whether a session is waiting for its client, and since when. The idle timeout counts only while
// the session waits (for input, for a full send buffer to drain, for a TLS handshake), never while
// a handler call is in progress; input from the client starts the count over.
import type { Clock } from "../../world/clock.js";

export class IdleClock {
  waiting = false;
  /** When the client last sent something or the session last began to wait. */
  since: number;

  constructor(
    private readonly clock: Clock,
    start: number,
  ) {
    this.since = start;
  }

  touch(): void {
    this.since = this.clock.now();
  }
}
