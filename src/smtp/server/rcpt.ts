// RCPT TO (RFC 5321 §4.1.1.3): adds a recipient. Path and parameters are untrusted and fully
// validated here; the handler decides whether the recipient is wanted. The bare <Postmaster>
// form (which must be accepted) is read as postmaster at our own hostname; the inbound policy
// sends it on to the operator's postmaster (smtp.postmaster) when no mailbox there takes it.
import { parseMailbox, splitPath } from "../../proto/address.js";
import { parseRcptParams } from "../../proto/params.js";
import { REPLIES, isPositive } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

export const rcpt: Verb = {
  name: "RCPT",
  async run(s: SessionApi, arg: string): Promise<void> {
    const tx = s.tx;
    if (tx === null) return s.reply(s.helo === null ? REPLIES.needHelo : REPLIES.needMail);
    if (tx.bdat !== null) return s.reply(REPLIES.badSequence);
    tx.rcptAttempts++;
    const split = splitPath(arg, "TO");
    if (!split.ok) return s.reply(split.reply);
    const params = parseRcptParams(split.params);
    if (!params.ok) return s.reply(params.reply);
    if (!s.esmtp && split.params !== "") return s.reply(REPLIES.paramUnknown);
    const to = parseMailbox(split.path, { role: "recipient", utf8: tx.params.smtputf8 });
    if (!to.ok) return s.reply(to.reply);
    if (tx.rcpts.length >= s.settings.smtp.maxRecipients) return s.reply(REPLIES.tooManyRecipients);
    const address = to.address === "Postmaster" ? `postmaster@${s.settings.hostname}` : to.address;
    const r =
      (await s.safely("rcptTo", () => s.handler.rcptTo(s.info(), tx, address, params.params))) ??
      REPLIES.localError;
    // The transaction may have been reset meanwhile (session timeout); add only to the live one.
    if (isPositive(r) && s.tx === tx) tx.rcpts.push({ address, params: params.params });
    s.reply(r);
  },
};
