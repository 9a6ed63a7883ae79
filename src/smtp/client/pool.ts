// Idle outbound sessions (SMTP or LMTP) kept per destination (route or backend key) so the next
// message to the same place skips connect, greeting, EHLO/LHLO and TLS or AUTH. A parked connection leaves the pool when its idle
// time (on the injected clock) runs out, when the server closes it, or when it is taken.
import type { SmtpConnection } from "./connection.js";
import type { Clock, TimerHandle } from "../../world/clock.js";

interface Parked {
  readonly conn: SmtpConnection;
  readonly timer: TimerHandle;
  readonly unwatch: () => void;
}

export class IdlePool {
  private readonly idle = new Map<string, Parked[]>();

  constructor(
    private readonly clock: Clock,
    private readonly keepMs: number,
    /** Closes a connection that leaves the pool unused (QUIT). */
    private readonly retire: (conn: SmtpConnection) => void,
  ) {}

  park(key: string, conn: SmtpConnection): void {
    if (this.keepMs <= 0 || !conn.alive) {
      this.retire(conn);
      return;
    }
    const list = this.idle.get(key) ?? [];
    this.idle.set(key, list);
    const entry: Parked = {
      conn,
      timer: this.clock.setTimeout(() => {
        if (this.remove(key, entry)) this.retire(conn);
      }, this.keepMs),
      unwatch: conn.onClose(() => this.remove(key, entry)),
    };
    list.push(entry);
  }

  /** The most recently parked live connection for this destination, or null. */
  take(key: string): SmtpConnection | null {
    const list = this.idle.get(key);
    for (;;) {
      const entry = list?.pop();
      if (entry === undefined) {
        this.idle.delete(key);
        return null;
      }
      entry.timer.cancel();
      entry.unwatch();
      if (entry.conn.alive) return entry.conn;
    }
  }

  /** Every parked connection, removed from the pool. */
  drain(): SmtpConnection[] {
    const out: SmtpConnection[] = [];
    for (const key of [...this.idle.keys()]) {
      for (let c = this.take(key); c !== null; c = this.take(key)) out.push(c);
    }
    return out;
  }

  size(): number {
    let n = 0;
    for (const l of this.idle.values()) n += l.length;
    return n;
  }

  private remove(key: string, entry: Parked): boolean {
    const list = this.idle.get(key);
    const i = list?.indexOf(entry) ?? -1;
    if (list === undefined || i < 0) return false;
    list.splice(i, 1);
    entry.timer.cancel();
    entry.unwatch();
    if (list.length === 0) this.idle.delete(key);
    return true;
  }
}
