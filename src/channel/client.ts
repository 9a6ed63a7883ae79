// The delivery channel's sending side: hands a local route's recipients to the backend that can
// open the account (target(job) says which), over authenticated LMTP, and answers one outcome per
// recipient (the router's Channel contract). Sessions are pooled per target and reused; an idle
// one is closed (QUIT) after idleKeepMs. Commands are pipelined. Nothing here bounces for a
// network problem: refused, timed out or broken connections, a refused AUTH and "no backend"
// defer with scope "destination", so the queue keeps the mail and retries.
import type { Readable } from "node:stream";
import { IdlePool } from "../delivery/relay/pool.js";
import type { Log } from "../log/logger.js";
import { bounced, type Outcome } from "../proto/outcome.js";
import { reply, type Reply } from "../proto/reply.js";
import type { DeliveryJob } from "../queue/types.js";
import { SmtpClientError, SmtpConnection, type TransactionInput } from "../smtp/client/index.js";
import type { Clock } from "../world/clock.js";
import type { Dialer } from "../world/dialer.js";
import { isWireNodeId } from "./auth.js";
import { channelRefusal } from "./carries.js";
import { openChannelSession } from "./client-session.js";
import { lmtpOutcomes, unreachable } from "./outcomes.js";
import { runLmtpTransaction, type LmtpResult } from "./transaction.js";

/** A backend's delivery channel listener. */
export interface ChannelTarget {
  /** The backend's node id (names it in outcomes and logs). */
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

export interface ChannelClientOptions {
  /** The cluster secret; null only to talk to a server without AUTH (tests, Dovecot). */
  readonly secret: string | null;
  /** This node's id, sent in AUTH. */
  readonly nodeId: string;
  /** Name given in LHLO. */
  readonly hostname: string;
  readonly dialer: Dialer;
  readonly clock: Clock;
  /** Tag DELIVERY. */
  readonly log: Log;
  /** Connect timeout, and the wait for each reply (after the message: for each recipient's). */
  readonly timeoutMs: number;
  /** An idle session is kept this long for the next job to the same target (0: not kept). */
  readonly idleKeepMs: number;
  /** Which backend takes this job's recipients, or why there is none right now. */
  target(job: DeliveryJob): Promise<ChannelTarget | { readonly none: string }>;
}

export interface ChannelClient {
  deliver(job: DeliveryJob): Promise<Outcome[]>;
  /** QUIT idle sessions; sessions in use close when their delivery ends. */
  close(): Promise<void>;
}

export function createChannelClient(o: ChannelClientOptions): ChannelClient {
  if (!isWireNodeId(o.nodeId)) throw new Error(`node id ${JSON.stringify(o.nodeId)} cannot be sent in AUTH`);
  const { clock, log, timeoutMs } = o;
  const background = new Set<Promise<void>>();
  let closed = false;

  const track = (p: Promise<void>): void => {
    background.add(p);
    void p.finally(() => background.delete(p));
  };
  const retire = (conn: SmtpConnection): void => track(conn.quit(timeoutMs));
  const pool = new IdlePool(clock, o.idleKeepMs, retire);

  async function release(key: string, conn: SmtpConnection, after: LmtpResult["after"]): Promise<void> {
    if (!conn.alive) return;
    if (after === "close") return conn.destroy();
    if (closed) return retire(conn);
    if (after === "reset" && !(await reset(conn))) return retire(conn);
    pool.park(key, conn);
  }

  async function reset(conn: SmtpConnection): Promise<boolean> {
    conn.write("RSET\r\n");
    try {
      return (await conn.readReply(timeoutMs, "RSET")).code === 250;
    } catch {
      return false;
    }
  }

  /** A fresh session to the target, or the outcomes for everyone when there is none. */
  async function open(job: DeliveryJob, t: ChannelTarget): Promise<SmtpConnection | Outcome[]> {
    const relay = `${t.id}[${t.host}]:${t.port}`;
    const n = job.recipients.length;
    let socket;
    try {
      socket = await o.dialer.connect({ host: t.host, port: t.port, timeoutMs });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      log.problem("connect failed", { relay, error: why });
      return unreachable(n, reply(451, "4.4.1", `connect to ${relay}: ${why}`), relay);
    }
    const conn = new SmtpConnection(socket, { host: t.id, address: t.host, port: t.port }, clock);
    try {
      const opened = await openChannelSession(conn, {
        lhlo: o.hostname,
        secret: o.secret,
        nodeId: o.nodeId,
        timeoutMs,
      });
      if (opened.kind === "ready") {
        log.info("connected", { relay, auth: o.secret !== null });
        return conn;
      }
      await conn.quit(timeoutMs);
      const said = `${opened.reply.code} ${opened.reply.enhanced ?? ""} ${opened.reply.text}`.replace(
        /\s+/g,
        " ",
      );
      log.problem("backend refused session", { relay, stage: opened.stage, reply: said });
      const code = opened.stage === "AUTH" ? "4.7.0" : "4.4.1";
      return unreachable(n, reply(451, code, `${relay} refused the ${opened.stage}: ${said}`), relay);
    } catch (e) {
      conn.destroy();
      const why = e instanceof SmtpClientError ? e.message : String(e);
      log.problem("session failed", { relay, error: why });
      return unreachable(n, reply(451, "4.4.2", why), relay);
    }
  }

  /** One transaction; "stale" when a pooled session turned out to be closed by the server. */
  async function attempt(
    key: string,
    conn: SmtpConnection,
    input: TransactionInput,
    reused: boolean,
  ): Promise<Outcome[] | "stale"> {
    const res = await runLmtpTransaction(conn, input, timeoutMs);
    if (reused && (res.mail === null || res.mail.code === 421) && res.delivery.every((r) => r === null)) {
      conn.destroy();
      return "stale";
    }
    await release(key, conn, res.after);
    return lmtpOutcomes(res, conn.relay);
  }

  async function deliverNow(job: DeliveryJob): Promise<Outcome[]> {
    // The same rule the backend applies at MAIL (carries.ts): a BINARYMIME message is returned
    // rather than sent over DATA. Nodes refuse such mail for local accounts before their 250, so
    // only mail queued before that rule can get here.
    const refused = channelRefusal(job.envelope.body);
    if (refused !== null) return job.recipients.map(() => bounced(refused, "none", "message"));
    let t: ChannelTarget | { readonly none: string };
    try {
      t = await o.target(job);
    } catch (e) {
      t = { none: `no backend known: ${e instanceof Error ? e.message : String(e)}` };
    }
    if ("none" in t) return unreachable(job.recipients.length, reply(451, "4.4.0", t.none), "none");
    const key = `${t.id}\n${t.host}\n${t.port}`;
    const input: TransactionInput = {
      envelope: job.envelope,
      recipients: job.recipients.map((r) => r.rcpt),
      body: (): Readable => job.body(),
    };
    const cached = pool.take(key);
    if (cached !== null) {
      const out = await attempt(key, cached, input, true);
      if (out !== "stale") return out;
      log.info("pooled session was closed, reconnecting", { relay: cached.relay });
    }
    const conn = await open(job, t);
    if (Array.isArray(conn)) return conn;
    const out = await attempt(key, conn, input, false);
    return out === "stale" ? unreachable(job.recipients.length, lost(conn.relay), conn.relay) : out;
  }

  return {
    async deliver(job) {
      if (job.recipients.length === 0) return [];
      const out = await deliverNow(job);
      logOutcomes(log, job, out, clock.now());
      return out;
    },
    async close() {
      closed = true;
      for (const conn of pool.drain()) retire(conn);
      while (background.size > 0) await Promise.all([...background]);
    },
  };
}

const lost = (relay: string): Reply => reply(451, "4.4.2", `lost connection with ${relay}`);

/** One line per recipient: to=, relay=, delay=, dsn=, status=, as the relay channel logs. */
function logOutcomes(log: Log, job: DeliveryJob, out: readonly Outcome[], now: number): void {
  const delay = ((now - job.envelope.arrival) / 1000).toFixed(2);
  job.recipients.forEach((r, i) => {
    const o = out[i];
    if (o === undefined) return;
    const fields = {
      id: job.envelope.id,
      to: r.rcpt.address,
      relay: o.relay,
      delay,
      dsn: o.reply.enhanced,
      status: o.kind === "delivered" ? "sent" : o.kind,
      reply: `${o.reply.code} ${o.reply.text.replace(/\n/g, " ")}`,
    };
    if (o.kind === "delivered") log.low("recipient delivery attempt", fields);
    else log.problem("recipient delivery attempt", fields);
  });
}
