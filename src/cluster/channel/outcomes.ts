// Turning an LMTP transaction into one outcome per recipient. Only a 5xx is evidence for a bounce:
// a per-recipient 5xx bounces that recipient, a 5xx to MAIL or DATA the message. A 4xx defers.
// Everything that says nothing about the message (no reply, a timeout, a lost connection, a 421
// closing the channel, an authentication refusal, no backend to go to) defers with scope
// "destination": the sender's queue keeps the recipient and retries. No I/O.
import { bounced, deferred, delivered, type Outcome, type Scope } from "../../proto/outcome.js";
import { REPLIES, type Reply } from "../../proto/reply.js";
import type { SmtpClientError, TransactionResult } from "../../smtp/client/index.js";

/** An LMTP transaction as the outcomes see it (the SMTP client's result in LMTP mode). */
export interface LmtpResult {
  /** null: the conversation broke before this reply arrived. */
  readonly mail: Reply | null;
  readonly rcpt: readonly (Reply | null)[];
  readonly data: Reply | null;
  /** Per recipient: the reply after the message; null when not accepted or none arrived. */
  readonly delivery: readonly (Reply | null)[];
  readonly error: SmtpClientError | null;
  /** What the session is good for afterwards. */
  readonly after: "reuse" | "reset" | "close";
}

export function lmtpResult(res: TransactionResult): LmtpResult {
  return {
    mail: res.mail,
    rcpt: res.rcpt,
    data: res.data,
    delivery: res.perRecipient ?? res.rcpt.map(() => null),
    error: res.error,
    after: res.mustClose ? "close" : res.needsReset ? "reset" : "reuse",
  };
}

export function lmtpOutcomes(res: LmtpResult, relay: string): Outcome[] {
  const broken = brokenReply(res);
  return res.rcpt.map((r, i) => {
    if (res.mail === null) return deferred(broken.reply, relay, broken.scope);
    const mailFailure = verdict(res.mail, relay, "message");
    if (mailFailure !== null) return mailFailure;
    if (r === null) return deferred(broken.reply, relay, broken.scope);
    const rcptFailure = verdict(r, relay, "recipient");
    if (rcptFailure !== null) return rcptFailure;
    if (res.data === null) return deferred(broken.reply, relay, broken.scope);
    if (res.data.code !== 354)
      return verdict(res.data, relay, "message") ?? deferred(unexpected(res.data), relay, "message");
    const final = res.delivery[i] ?? null;
    if (final === null) return deferred(broken.reply, relay, broken.scope);
    return verdict(final, relay, "recipient") ?? delivered(final, relay);
  });
}

/** Every recipient of a job that could not be attempted (no target, no session). */
export const unreachable = (count: number, r: Reply, relay: string): Outcome[] =>
  Array.from({ length: count }, () => deferred(r, relay, "destination"));

/** null for a 2xx; a bounce for a 5xx; a deferral for anything else. */
function verdict(r: Reply, relay: string, scope: Scope): Outcome | null {
  if (r.code >= 200 && r.code < 300) return null;
  // 421: the server is closing the channel (RFC 5321 §3.8); 530: we are not authenticated
  // (our configuration, not the message).
  if (r.code === 421 || r.code === 530) return deferred(r, relay, "destination");
  if (r.code >= 500) return bounced(r, relay, scope);
  if (r.code >= 400) return deferred(r, relay, scope);
  return deferred(unexpected(r), relay, scope);
}

const unexpected = (r: Reply): Reply => REPLIES.unexpectedReply({ code: r.code, text: r.text });

function brokenReply(res: LmtpResult): { reply: Reply; scope: Scope } {
  const e = res.error;
  if (e === null) return { reply: REPLIES.noReply, scope: "destination" };
  // Reading our own queued message failed: a problem with this message, not the backend.
  if (e.kind === "local") return { reply: REPLIES.localFailure({ why: e.message }), scope: "message" };
  return { reply: REPLIES.conversationFailed({ why: e.message }), scope: "destination" };
}
