// Turning the replies of one SMTP transaction into one outcome per recipient (what Postfix's
// smtp_trouble.c decides): a 5xx is the only evidence for a bounce; a 4xx, a missing reply, a
// timeout or a lost connection defers. MAIL and DATA failures concern the whole message, RCPT
// failures one recipient. No I/O.
import { bounced, deferred, delivered, type Outcome, type Scope } from "../../proto/outcome.js";
import { REPLIES, type Reply } from "../../proto/reply.js";
import type { TransactionResult } from "../../smtp/client/index.js";

export function transactionOutcomes(res: TransactionResult, relay: string): Outcome[] {
  const broken = brokenReply(res);
  const mailFailure = res.mail === null ? null : verdict(res.mail, relay, "message");
  return res.rcpt.map((r) => {
    if (res.mail === null) return deferred(broken, relay, "message");
    if (mailFailure !== null) return mailFailure;
    if (r === null) return deferred(broken, relay, "message");
    const rcptFailure = verdict(r, relay, "recipient");
    if (rcptFailure !== null) return rcptFailure;
    if (!res.chunked) {
      if (res.data === null) return deferred(broken, relay, "message");
      if (res.data.code !== 354)
        return verdict(res.data, relay, "message") ?? deferred(unexpected(res.data), relay, "message");
    }
    if (res.final === null) return deferred(broken, relay, "message");
    return verdict(res.final, relay, "message") ?? delivered(res.final, relay);
  });
}

/** null for a 2xx; a bounce for a 5xx; a deferral for anything else. */
function verdict(r: Reply, relay: string, scope: Scope): Outcome | null {
  if (r.code >= 200 && r.code < 300) return null;
  if (r.code >= 500) return bounced(r, relay, scope);
  if (r.code >= 400) return deferred(r, relay, scope);
  return deferred(unexpected(r), relay, scope);
}

/** A 1xx/3xx where it makes no sense: temporary, keeping the server's words. */
const unexpected = (r: Reply): Reply => REPLIES.unexpectedReply({ code: r.code, text: r.text });

function brokenReply(res: TransactionResult): Reply {
  const e = res.error;
  if (e === null) return REPLIES.noReply;
  switch (e.kind) {
    case "local":
      return REPLIES.localFailure({ why: e.message });
    case "timeout":
    case "lost":
    case "protocol":
    case "tls":
    case "untrusted":
      return REPLIES.conversationFailed({ why: e.message });
  }
}
