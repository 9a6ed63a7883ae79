// The receiving side of the delivery channel, as the LMTP listener's handler: who may be a
// recipient here (admit), and what happens to a received message: it becomes a delivery job
// (job.ts) for the local mailbox channel (deliver, which fsyncs before it answers), and each
// accepted recipient hears its own outcome (recipient-reply.ts). Nothing is enqueued here: a
// temporary answer leaves the recipient in the sender's queue. BINARYMIME is refused at MAIL
// (carries.ts), before the sender's 250 could matter.
import type { Log } from "../../log/logger.js";
import type { Outcome } from "../../proto/outcome.js";
import { REPLIES, isPositive, type Reply } from "../../proto/reply.js";
import type { SessionInfo, Transaction } from "../../smtp/handler.js";
import type { LmtpHandler } from "../../smtp/server/lmtp/handler.js";
import { channelRefusal } from "./carries.js";
import { channelJob } from "./job.js";
import type { ChannelServerOptions } from "./options.js";
import { recipientReply } from "./recipient-reply.js";

export function channelReceiver(o: ChannelServerOptions, newId: () => string): LmtpHandler {
  const logOf = (s: SessionInfo): Log => o.log.with(s.id, s.remote.address);
  return {
    connect: () => Promise.resolve(null),
    // SASL AUTH is not among the channel's verbs (its AUTH is auth-verb.ts).
    authenticate: () => Promise.resolve("invalid"),
    mailFrom: (_s, _from, params) => Promise.resolve(channelRefusal(params.body) ?? REPLIES.okSender),
    async rcptTo(s, _tx, to) {
      let refusal: Reply | null;
      try {
        refusal = await o.admit(to);
      } catch (e) {
        logOf(s).problem("recipient check failed", { to, error: e instanceof Error ? e.message : String(e) });
        return REPLIES.localError;
      }
      return refusal === null || isPositive(refusal) ? REPLIES.okRecipient : refusal;
    },
    // The LMTP DATA verb takes the message whole and calls deliverEach instead.
    openMessage: () => Promise.resolve(REPLIES.localError),
    vrfy: () => Promise.resolve(REPLIES.notImplemented),
    close: () => undefined,
    async deliverEach(s: SessionInfo, tx: Transaction, got): Promise<readonly Reply[]> {
      const log = logOf(s);
      const id = newId();
      const node = s.authUser ?? "";
      // The session has logged why (size, bare line ending); every recipient hears it.
      if ("refused" in got) {
        return tx.rcpts.map((r) => refusedReply(r.address, got.refused));
      }
      const job = channelJob({
        id,
        from: tx.from,
        params: tx.params,
        rcpts: tx.rcpts,
        message: got.message,
        arrival: o.clock.now(),
        client: { ...s.remote, helo: s.helo, tls: false },
      });
      log.info("message received", {
        id,
        node,
        from: tx.from,
        rcpts: tx.rcpts.length,
        size: got.message.length,
      });
      let outcomes: Outcome[];
      try {
        outcomes = await o.deliver(job);
      } catch (e) {
        // A bug in delivery: every recipient is retried by the sender, nothing is lost.
        log.failure("delivery failed", {
          id,
          error: e instanceof Error ? (e.stack ?? e.message) : String(e),
        });
        outcomes = [];
      }
      // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
      return tx.rcpts.map((r, i) => {
        const answer = recipientReply(r.address, outcomes[i]);
        log.low("recipient reply", { id, to: r.address, code: answer.code, dsn: answer.enhanced });
        return answer;
      });
    },
  };
}

const refusedReply = (address: string, r: Reply): Reply =>
  recipientReply(address, {
    kind: r.code >= 500 ? "bounced" : "deferred",
    reply: r,
    relay: "",
    scope: "message",
  });
