// RSET (RFC 5321 §4.1.1.5): ends the transaction (an open BDAT message is discarded); keeps the
// EHLO/HELO state, TLS and AUTH.
import { REPLIES } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

export const rset: Verb = {
  name: "RSET",
  async run(s: SessionApi, arg: string): Promise<void> {
    if (arg !== "") return s.reply(REPLIES.paramSyntax);
    await s.resetTx();
    s.reply(REPLIES.okReset);
  },
};
