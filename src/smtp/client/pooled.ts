// Delivering over pooled outbound sessions, the part the relay (SMTP) and the delivery channel
// (LMTP) share: a parked session for the destination is tried first and, when the server had
// closed it while it idled ("stale": nothing was accepted), a fresh one is opened; afterwards the
// session is parked again (RSET first when the server may still hold the transaction), retired
// with QUIT, or dropped. Every recipient gets one outcome and one log line (outcome-log.ts).
// close() retires the idle sessions and waits for their QUITs; sessions in use close when their
// delivery ends.
import type { Log } from "../../log/logger.js";
import { deferred, type Outcome } from "../../proto/outcome.js";
import { REPLIES } from "../../proto/reply.js";
import type { Clock } from "../../world/clock.js";
import type { SmtpConnection } from "./connection.js";
import { logOutcomes, type LoggedJob } from "./outcome-log.js";
import { IdlePool } from "./pool.js";
import type { TransactionResult } from "./transaction.js";

export interface PooledOptions {
  readonly clock: Clock;
  readonly log: Log;
  /** An idle session is kept this long for the next message to the same destination (0: not kept). */
  readonly idleKeepMs: number;
  /** For QUIT and RSET. */
  readonly commandTimeoutMs: number;
}

/** How one delivery goes: its destination key, how to open a session there, one attempt on it. */
export interface DeliveryPlan {
  readonly key: string;
  /** A fresh session, or every recipient's outcome when there is none. */
  open(): Promise<SmtpConnection | Outcome[]>;
  /** One transaction on the session. */
  attempt(conn: SmtpConnection): Promise<Attempt>;
}

/** One transaction's result (null: none was run), what it means, what the session is good for now. */
export interface Attempt {
  readonly res: TransactionResult | null;
  readonly outcomes: Outcome[];
  readonly after: AfterTransaction;
}

/** What a session is good for after a transaction. */
export type AfterTransaction = "reuse" | "reset" | "retire" | "close";

export class PooledSessions {
  private readonly pool: IdlePool;
  private readonly background = new Set<Promise<void>>();
  private closing = false;

  constructor(private readonly o: PooledOptions) {
    this.pool = new IdlePool(o.clock, o.idleKeepMs, (conn) => this.retire(conn));
  }

  /** QUIT in the background (close() waits for it). */
  retire(conn: SmtpConnection): void {
    const p = conn.quit(this.o.commandTimeoutMs);
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** After a transaction: park the session for reuse (RSET first if asked), retire it or drop it. */
  async release(key: string, conn: SmtpConnection, after: AfterTransaction): Promise<void> {
    if (!conn.alive) return;
    if (after === "close") return conn.destroy();
    if (this.closing || after === "retire") return this.retire(conn);
    if (after === "reset" && !(await this.reset(conn))) return this.retire(conn);
    this.pool.park(key, conn);
  }

  /**
   * Deliver a job: `plan` says where (or answers every recipient itself, e.g. no route); an
   * empty job has no outcomes. Logs one line per recipient.
   */
  async deliver(
    job: LoggedJob,
    plan: () => DeliveryPlan | Outcome[] | Promise<DeliveryPlan | Outcome[]>,
  ): Promise<Outcome[]> {
    if (job.recipients.length === 0) return [];
    const p = await plan();
    const out = Array.isArray(p) ? p : await this.run(p, job.recipients.length);
    logOutcomes(this.o.log, job, out, this.o.clock.now());
    return out;
  }

  /** Retire idle sessions and wait for their QUITs. */
  async close(): Promise<void> {
    this.closing = true;
    for (const conn of this.pool.drain()) this.retire(conn);
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  private async run(p: DeliveryPlan, n: number): Promise<Outcome[]> {
    const cached = this.pool.take(p.key);
    if (cached !== null) {
      const out = await this.once(p, cached, true);
      if (out !== "stale") return out;
      this.o.log.info("pooled session was closed, reconnecting", { relay: cached.relay });
    }
    const conn = await p.open();
    if (Array.isArray(conn)) return conn;
    const out = await this.once(p, conn, false);
    // A fresh session is never "stale"; once only says so for reused ones.
    if (out !== "stale") return out;
    const lost = REPLIES.lostConnection({ relay: conn.relay });
    return Array.from({ length: n }, () => deferred(lost, conn.relay, "destination"));
  }

  /** One attempt; "stale" when a reused session turned out to be closed by the server. */
  private async once(p: DeliveryPlan, conn: SmtpConnection, reused: boolean): Promise<Outcome[] | "stale"> {
    const a = await p.attempt(conn);
    // A pooled session the server dropped while idle: nothing was accepted, dial afresh.
    if (reused && a.res !== null && unanswered(a.res)) {
      conn.destroy();
      return "stale";
    }
    // Awaited so the next message to this destination finds the session in the pool; without
    // an RSET this is immediate.
    await this.release(p.key, conn, a.after);
    return a.outcomes;
  }

  /** RSET (RFC 5321 §4.1.1.5) so the session can carry another transaction; false if it did not work. */
  private async reset(conn: SmtpConnection): Promise<boolean> {
    conn.write("RSET\r\n");
    try {
      return (await conn.readReply(this.o.commandTimeoutMs, "RSET")).code === 250;
    } catch {
      return false;
    }
  }
}

/** No answer to MAIL (or 421, the server closing) and none after any data. */
const unanswered = (res: TransactionResult): boolean =>
  (res.mail === null || res.mail.code === 421) &&
  res.final === null &&
  (res.perRecipient ?? []).every((r) => r === null);
