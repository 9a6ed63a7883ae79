// The relay channel: delivers a remote route's recipients over SMTP, to the domain's MX hosts
// ("relay:<domain>") or to the configured forwarding hosts ("forward:*"). Answers one outcome
// per recipient and never throws for delivery problems. Idle connections are kept per route for
// smtp.outbound.idleKeepSeconds and reused for up to maxMessagesPerConnection transactions.
// Everything from DNS and remote servers is untrusted (see relay/targets.ts, smtp/client).
// Not done yet: a loop check (an MX that resolves to one of our own listening addresses) and a
// plaintext retry after a failed TLS handshake (today that host is skipped like a refused one).
import type { Readable } from "node:stream";
import type { Settings } from "../config/settings.js";
import type { Log } from "../log/logger.js";
import { bounced, deferred, type Outcome } from "../proto/outcome.js";
import type { Reply } from "../proto/reply.js";
import type { DeliveryJob } from "../queue/types.js";
import {
  capabilityProblem,
  sendsChunked,
  clientOptions,
  needsSmtputf8,
  resetSession,
  runTransaction,
  type SmtpConnection,
  type TransactionInput,
  type TransactionResult,
} from "../smtp/client/index.js";
import type { Clock } from "../world/clock.js";
import type { Dialer } from "../world/dialer.js";
import type { Resolver } from "../world/resolver.js";
import { connectToTargets } from "./relay/connect.js";
import { headerSectionIsAscii } from "./relay/header-ascii.js";
import { transactionOutcomes } from "./relay/outcomes.js";
import { IdlePool } from "./relay/pool.js";
import { resolveTargets, type FrontendList } from "./relay/targets.js";
import type { DkimSigner } from "./dkim/sign.js";

export interface RelayChannelOptions {
  readonly settings: Settings;
  readonly resolver: Resolver;
  readonly dialer: Dialer;
  readonly clock: Clock;
  /** Tagged SMTP. */
  readonly log: Log;
  readonly hostname: string;
  /** Live frontends for a "*" in smtp.forwardTo (cluster backends); none elsewhere. */
  readonly frontends?: FrontendList;
  /** DKIM signing (single servers and frontends); absent on backends, whose frontends sign. */
  readonly dkim?: DkimSigner;
}

export interface RelayChannel {
  deliver(job: DeliveryJob): Promise<Outcome[]>;
  /** QUIT idle connections; connections in use close when their delivery ends. */
  close(): Promise<void>;
}

export function createRelayChannel(opts: RelayChannelOptions): RelayChannel {
  const { settings, resolver, dialer, clock, log } = opts;
  const options = clientOptions(settings, opts.hostname);
  const maxPerConnection = settings.smtp.outbound.maxMessagesPerConnection;
  const background = new Set<Promise<void>>();
  let closed = false;

  const track = (p: Promise<void>): void => {
    background.add(p);
    void p.finally(() => background.delete(p));
  };
  const retire = (conn: SmtpConnection): void => track(conn.quit(options.commandTimeoutMs));
  const pool = new IdlePool(clock, settings.smtp.outbound.idleKeepSeconds * 1000, retire);

  /** After a transaction: park the connection for reuse (RSET first if needed), or close it. */
  async function release(key: string, conn: SmtpConnection, res: TransactionResult | null): Promise<void> {
    if (!conn.alive) return;
    if (closed || conn.transactions >= maxPerConnection || saw421(res)) return retire(conn);
    if (res?.needsReset === true && !(await resetSession(conn, options))) return retire(conn);
    pool.park(key, conn);
  }

  /** One transaction on an open session; "stale" when a reused connection was already dead. */
  async function attempt(
    key: string,
    conn: SmtpConnection,
    input: TransactionInput,
    reused: boolean,
  ): Promise<Outcome[] | "stale"> {
    // Asked for SMTPUTF8 but the server lacks it: it can still go if nothing in it needs the
    // extension once domains are A-labels (RFC 6531 §3.4); only then is the header read.
    const utf8 =
      input.envelope.smtputf8 &&
      (conn.extensions.smtputf8 ||
        needsSmtputf8(input.envelope, input.recipients, await headerSectionIsAscii(input.body())));
    const sent =
      utf8 === input.envelope.smtputf8
        ? input
        : { ...input, envelope: { ...input.envelope, smtputf8: utf8 } };
    const chunked = sendsChunked(conn.extensions, options);
    const problem = capabilityProblem(sent.envelope, conn.extensions, conn.relay, chunked);
    if (problem !== null) {
      await release(key, conn, null);
      return input.recipients.map(() => bounced(problem, conn.relay, "message"));
    }
    const res = await runTransaction(conn, sent, options);
    // A cached connection the server dropped while idle: nothing was accepted, dial afresh.
    if (reused && (res.mail === null || res.mail.code === 421) && res.final === null) {
      conn.destroy();
      return "stale";
    }
    // Awaited so the next message to this destination finds the connection in the pool; without
    // an RSET this is immediate.
    await release(key, conn, res);
    return transactionOutcomes(res, conn.relay);
  }

  async function deliverNow(job: DeliveryJob): Promise<Outcome[]> {
    const key = job.route.key;
    const input: TransactionInput = {
      envelope: job.envelope,
      recipients: job.recipients.map((r) => r.rcpt),
      body: opts.dkim === undefined ? (): Readable => job.body() : await opts.dkim.body(job),
    };
    const cached = pool.take(key);
    if (cached !== null) {
      const out = await attempt(key, cached, input, true);
      if (out !== "stale") return out;
      log.info("cached connection was closed, reconnecting", { relay: cached.relay });
    }
    const targets = await resolveTargets(key, settings, resolver, opts.frontends);
    if (targets.kind === "none") return everyone(job, targets.reply, "none", targets.permanent);
    const c = await connectToTargets(targets.hosts, { resolver, dialer, clock, log, options });
    if (c.kind === "failed") return everyone(job, c.reply, c.relay, c.permanent);
    const out = await attempt(key, c.conn, input, false);
    // A fresh connection is never "stale"; attempt only says so for reused ones.
    return out === "stale" ? everyone(job, staleReply(c.conn.relay), c.conn.relay, false) : out;
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

function everyone(job: DeliveryJob, reply: Reply, relay: string, permanent: boolean): Outcome[] {
  return job.recipients.map(() =>
    permanent ? bounced(reply, relay, "destination") : deferred(reply, relay, "destination"),
  );
}

const staleReply = (relay: string): Reply => ({
  code: 451,
  enhanced: "4.4.2",
  text: `lost connection with ${relay}`,
});

/** A 421 anywhere means the server is closing the channel (RFC 5321 §3.8). */
function saw421(res: TransactionResult | null): boolean {
  if (res === null) return false;
  return [res.mail, res.data, res.final, ...res.rcpt].some((r) => r?.code === 421);
}

/** One line per recipient, as Postfix logs: to=, relay=, delay=, dsn=, status=. */
function logOutcomes(log: Log, job: DeliveryJob, out: readonly Outcome[], now: number): void {
  const delay = ((now - job.envelope.arrival) / 1000).toFixed(2);
  job.recipients.forEach((r, i) => {
    const o = out[i];
    if (o === undefined) return;
    const status = o.kind === "delivered" ? "sent" : o.kind;
    const text = `${o.reply.code} ${o.reply.text.replace(/\n/g, " ")}`;
    log.low("recipient delivery attempt", {
      id: job.envelope.id,
      to: r.rcpt.address,
      relay: o.relay,
      delay,
      dsn: o.reply.enhanced,
      status,
      reply: text,
    });
  });
}
