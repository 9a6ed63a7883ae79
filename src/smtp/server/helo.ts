// HELO (RFC 5321 §4.1.1.1): a plain SMTP session; ends any transaction. Argument untrusted.
import { REPLIES } from "../../proto/reply.js";
import { HELO_NAME } from "./ehlo.js";
import type { SessionApi, Verb } from "./verb.js";

export const helo: Verb = {
  name: "HELO",
  async run(s: SessionApi, arg: string): Promise<void> {
    if (!HELO_NAME.test(arg)) {
      s.reply(REPLIES.paramSyntax);
      return;
    }
    await s.resetTx();
    s.helo = arg;
    s.esmtp = false;
    s.reply(REPLIES.heloOk({ host: s.settings.hostname }));
  },
};
