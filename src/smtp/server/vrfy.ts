// VRFY (RFC 5321 §4.1.1.6): off by default (smtp.vrfy) since it lets anyone probe for
// addresses; when on, the handler answers (typically 252). The argument is untrusted; only a
// bracketed path is unwrapped.
import { REPLIES } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

export const vrfy: Verb = {
  name: "VRFY",
  async run(s: SessionApi, arg: string): Promise<void> {
    if (!s.settings.smtp.vrfy) return s.reply(REPLIES.vrfyDisabled);
    if (arg === "" || arg.length > 512) return s.reply(REPLIES.paramSyntax);
    const target = arg.startsWith("<") && arg.endsWith(">") ? arg.slice(1, -1) : arg;
    const r = (await s.safely("vrfy", () => s.handler.vrfy(s.info(), target))) ?? REPLIES.localError;
    s.reply(r);
  },
};
