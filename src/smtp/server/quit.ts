// QUIT (RFC 5321 §4.1.1.10): 221, then the server closes. An open transaction is dropped.
import { REPLIES } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

export const quit: Verb = {
  name: "QUIT",
  async run(s: SessionApi, arg: string): Promise<void> {
    if (arg !== "") return s.reply(REPLIES.paramSyntax);
    await s.resetTx();
    s.quit(REPLIES.bye);
  },
};
