// DATA (RFC 5321 §4.1.1.4): opens the message at the handler, sends 354, then streams the
// dot-unstuffed text into the sink with backpressure. The text is untrusted: the session's
// DataDecoder enforces CRLF-only line endings (anti-smuggling), the size and line limits, and
// the content MAIL FROM declared (8-bit, NUL: declaredContent).
import { declaredContent } from "../../proto/dataframe.js";
import { REPLIES } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

export const data: Verb = {
  name: "DATA",
  async run(s: SessionApi, arg: string): Promise<void> {
    if (arg !== "") return s.reply(REPLIES.paramSyntax);
    const tx = s.tx;
    if (tx === null) return s.reply(s.helo === null ? REPLIES.needHelo : REPLIES.needMail);
    // RFC 3030 §3: DATA may not follow BDAT in one transaction, nor carry BINARYMIME.
    if (tx.bdat !== null) return s.reply(REPLIES.badSequence);
    if (tx.params.body === "BINARYMIME") return s.reply(REPLIES.binaryNeedsBdat);
    if (tx.rcpts.length === 0) {
      // RFC 2920 §3.1: after pipelined RCPTs that all failed, DATA gets 554.
      return s.reply(tx.rcptAttempts > 0 ? REPLIES.noValidRecipients : REPLIES.needRcpt);
    }
    const opened = await s.safely("openMessage", () => s.handler.openMessage(s.info(), tx));
    if (opened === null || !("write" in opened)) {
      await s.resetTx();
      return s.reply(opened ?? REPLIES.localError);
    }
    s.reply(REPLIES.startData);
    const r = await s.receiveData(opened, declaredContent(tx.params));
    // The transaction ends with the data, whatever the outcome (RFC 5321 §4.1.1.4).
    s.tx = null;
    if (r !== null) s.reply(r);
  },
};
