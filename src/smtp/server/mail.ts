// MAIL FROM (RFC 5321 §4.1.1.2): opens a transaction. Path and parameters are untrusted and
// fully validated here before the handler sees them; SIZE= over the limit is refused at once
// (RFC 1870 §6) so the client does not send the data for nothing. REQUIRETLS (RFC 8689) is offered
// and taken only inside TLS: the sender asks for TLS on every hop, and this one must be the first.
import { parseMailbox, splitPath } from "../../proto/address.js";
import { parseMailParams } from "../../proto/params.js";
import { REPLIES, isPositive } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

export const mail: Verb = {
  name: "MAIL",
  advertise: (s) => (s.tlsActive ? ["REQUIRETLS"] : []),
  async run(s: SessionApi, arg: string): Promise<void> {
    if (s.helo === null) return s.reply(REPLIES.needHelo);
    if (s.tx !== null) return s.reply(REPLIES.alreadyMail);
    const split = splitPath(arg, "FROM");
    if (!split.ok) return s.reply(split.reply);
    const params = parseMailParams(split.params);
    if (!params.ok) return s.reply(params.reply);
    const p = params.params;
    // SMTPUTF8 and BINARYMIME are ESMTP; a HELO client cannot have seen them offered.
    if (!s.esmtp && split.params !== "") return s.reply(REPLIES.paramUnknown);
    const from = parseMailbox(split.path, { role: "sender", utf8: p.smtputf8 });
    if (!from.ok) return s.reply(from.reply);
    if (p.size !== null && p.size > s.settings.smtp.maxMessageSize) return s.reply(REPLIES.messageTooBig);
    if (p.requireTls && !s.tlsActive) return s.reply(REPLIES.requireTlsWithoutTls);
    const r =
      (await s.safely("mailFrom", () => s.handler.mailFrom(s.info(), from.address, p))) ?? REPLIES.localError;
    if (isPositive(r)) s.tx = { from: from.address, params: p, rcpts: [], rcptAttempts: 0, bdat: null };
    s.reply(r);
  },
};
