// The delivery channel's sending side: hands a local route's recipients to the backend that can
// open the account (target(job) says which), over authenticated LMTP, and answers one outcome per
// recipient (the router's Channel contract). The SMTP client does the talking in its LMTP mode,
// over the same pooled sessions as the relay (smtp/client/pooled.ts): sessions are pooled per
// target and reused; an idle one is closed (QUIT) after idleKeepMs. Commands are pipelined. Nothing here bounces for a
// network problem: refused, timed out or broken connections, a refused AUTH and "no backend"
// defer with scope "destination", so the queue keeps the mail and retries. A backend whose
// heartbeat lapses while a delivery to it is in flight (hung, sockets still open) is not waited
// on for the reply timeout: the session is dropped and the job deferred at once (hang-guard.ts).
import type { Log } from "../../log/logger.js";
import { bounced, deferred, type Outcome } from "../../proto/outcome.js";
import { REPLIES } from "../../proto/reply.js";
import type { DeliveryJob } from "../../queue/types.js";
import {
  PooledSessions,
  SmtpClientError,
  SmtpConnection,
  runTransaction,
  transactionInput,
  type Attempt,
  type ClientOptions,
  type TransactionInput,
} from "../../smtp/client/index.js";
import type { Clock } from "../../world/clock.js";
import type { Dialer } from "../../world/dialer.js";
import { secureToMember, type MemberTls } from "../tls/member-tls.js";
import { isWireNodeId } from "./auth.js";
import { channelRefusal } from "./carries.js";
import { openChannelSession } from "./client-session.js";
import { watchTarget, type HangGuard } from "./hang-guard.js";
import { lmtpOutcomes, lmtpResult, unreachable } from "./outcomes.js";

/** A backend's delivery channel listener. */
export interface ChannelTarget {
  /** The backend's node id (names it in outcomes and logs). */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Whether the backend is still live (heartbeat); absent: it is only waited on. */
  readonly live?: () => boolean;
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
  /**
   * How often a delivery in flight looks at its backend's liveness: the membership's refresh
   * interval (cluster.heartbeatSeconds), since liveness changes no more often than that.
   */
  readonly liveCheckMs?: number;
  /** Cluster TLS: every session is TLS from the first byte, to a peer proving the target's node id. */
  readonly memberTls?: MemberTls | null;
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
  const client: ClientOptions = {
    helo: o.hostname,
    starttls: false,
    connectTimeoutMs: timeoutMs,
    commandTimeoutMs: timeoutMs,
    dataTimeoutMs: timeoutMs,
    chunking: false,
    lmtp: true,
  };
  const pooled = new PooledSessions({ clock, log, idleKeepMs: o.idleKeepMs, commandTimeoutMs: timeoutMs });

  /** A fresh session to the target, or the outcomes for everyone when there is none. */
  async function open(
    job: DeliveryJob,
    t: ChannelTarget,
    guard: HangGuard | null,
  ): Promise<SmtpConnection | Outcome[]> {
    const relay = `${t.id}[${t.host}]:${t.port}`;
    const n = job.recipients.length;
    if (guard?.hasLapsed() === true) return unreachable(n, REPLIES.memberLapsed({ id: t.id }), relay);
    let socket;
    try {
      const dialing = o.dialer.connect({ host: t.host, port: t.port, timeoutMs });
      const lapsed = guard?.lapsed.then(() => null) ?? new Promise<null>(() => undefined);
      socket = await Promise.race([dialing, lapsed]);
      if (socket === null) {
        void dialing.then((late) => late.destroy()).catch(() => undefined);
        return unreachable(n, REPLIES.memberLapsed({ id: t.id }), relay);
      }
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      log.problem("connect failed", { relay, error: why });
      return unreachable(n, REPLIES.connectFailed({ relay, why }), relay);
    }
    if (o.memberTls != null) {
      try {
        socket = await secureToMember(o.memberTls, socket, t.id, timeoutMs);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        log.problem("member TLS failed", { relay, error: why });
        return unreachable(n, REPLIES.connectFailed({ relay, why }), relay);
      }
    }
    const conn = new SmtpConnection(socket, { host: t.id, address: t.host, port: t.port }, clock);
    dropWhenLapsed(guard, conn);
    try {
      const opened = await openChannelSession(conn, { client, secret: o.secret, nodeId: o.nodeId });
      if (opened.kind === "ready") {
        log.info("connected", { relay, auth: o.secret !== null, tls: o.memberTls != null });
        return conn;
      }
      await conn.quit(timeoutMs);
      const said = `${opened.reply.code} ${opened.reply.enhanced ?? ""} ${opened.reply.text}`.replace(
        /\s+/g,
        " ",
      );
      log.problem("backend refused session", { relay, stage: opened.stage, reply: said });
      const refused = opened.stage === "AUTH" ? REPLIES.authRefused : REPLIES.sessionRefused;
      return unreachable(n, refused({ relay, stage: opened.stage, said }), relay);
    } catch (e) {
      conn.destroy();
      const why = e instanceof SmtpClientError ? e.message : String(e);
      log.problem("session failed", { relay, error: why });
      return unreachable(n, REPLIES.conversationFailed({ why }), relay);
    }
  }

  /** A hung backend's session is dropped, which ends whatever waits on it with an error. */
  function dropWhenLapsed(guard: HangGuard | null, conn: SmtpConnection): void {
    void guard?.lapsed.then(() => {
      if (!conn.alive) return;
      log.problem("backend stopped answering, session dropped", { relay: conn.relay });
      conn.destroy();
    });
  }

  /** One LMTP transaction. */
  async function attempt(conn: SmtpConnection, input: TransactionInput): Promise<Attempt> {
    const res = await runTransaction(conn, input, client);
    const lmtp = lmtpResult(res);
    return { res, outcomes: lmtpOutcomes(lmtp, conn.relay), after: lmtp.after };
  }

  /** What a delivery cut short by a lapsed heartbeat left undone is deferred as that. */
  const lapsedOutcomes = (out: Outcome[], id: string): Outcome[] =>
    out.map((x) =>
      x.kind === "deferred" ? deferred(REPLIES.memberLapsed({ id }), x.relay, "destination") : x,
    );

  const deliverGuarded = async (job: DeliveryJob): Promise<Outcome[]> => {
    const watch: { guard: HangGuard | null; id: string } = { guard: null, id: "" };
    try {
      const out = await pooled.deliver(job, async () => {
        // The same rule the backend applies at MAIL (carries.ts): a BINARYMIME message is
        // returned rather than sent over DATA. Nodes refuse such mail for local accounts before
        // their 250, so only mail queued before that rule can get here.
        const refused = channelRefusal(job.envelope.body);
        if (refused !== null) return job.recipients.map(() => bounced(refused, "none", "message"));
        let t: ChannelTarget | { readonly none: string };
        try {
          t = await o.target(job);
        } catch (e) {
          t = { none: `no backend known: ${e instanceof Error ? e.message : String(e)}` };
        }
        if ("none" in t) return unreachable(job.recipients.length, REPLIES.noTarget({ why: t.none }), "none");
        const target = t;
        const key = `${t.id}\n${t.host}\n${t.port}`;
        const input = transactionInput(job);
        const guard = t.live === undefined ? null : watchTarget(t.live, clock, o.liveCheckMs);
        watch.guard = guard;
        watch.id = t.id;
        return {
          key,
          open: () => open(job, target, guard),
          attempt: (conn) => {
            // A pooled session too: a backend hung while it idled is noticed here.
            dropWhenLapsed(guard, conn);
            return attempt(conn, input);
          },
        };
      });
      return watch.guard?.hasLapsed() === true ? lapsedOutcomes(out, watch.id) : out;
    } finally {
      watch.guard?.stop();
    }
  };

  return {
    deliver: deliverGuarded,
    close: () => pooled.close(),
  };
}
