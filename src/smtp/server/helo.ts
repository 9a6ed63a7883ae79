// HELO (RFC 5321 §4.1.1.1): a plain SMTP session; ends any transaction. Argument untrusted.
import { REPLIES } from "../../proto/reply.js";
import { greeted } from "./ehlo.js";
import type { SessionApi, Verb } from "./verb.js";

export const helo: Verb = {
  name: "HELO",
  async run(s: SessionApi, arg: string): Promise<void> {
    if (!(await greeted(s, arg, false))) return;
    s.reply(REPLIES.heloOk({ host: s.settings.hostname }));
  },
};
