// RSET (RFC 5321 §4.1.1.5): ends the transaction (an open BDAT message is discarded); keeps the
// EHLO/HELO state, TLS and AUTH. QUIT (quit.ts) ends it the same way before it closes.
import { REPLIES } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

/** A verb without parameters that drops the open transaction, then does `then`. */
export function resettingVerb(name: string, then: (s: SessionApi) => void): Verb {
  return {
    name,
    async run(s: SessionApi, arg: string): Promise<void> {
      if (arg !== "") return s.reply(REPLIES.paramSyntax);
      await s.resetTx();
      then(s);
    },
  };
}

export const rset: Verb = resettingVerb("RSET", (s) => s.reply(REPLIES.okReset));
