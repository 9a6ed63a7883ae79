// STARTTLS (RFC 3207): 220, then the TLS handshake on the same connection; afterwards the
// session starts over (no HELO, no transaction, no AUTH: §4.2). Anything the client pipelined
// after STARTTLS is discarded by the session before the handshake (CVE-2011-0411).
import { REPLIES } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

export const starttls: Verb = {
  name: "STARTTLS",
  advertise: (s) => (s.tlsAvailable && !s.tlsActive ? ["STARTTLS"] : []),
  async run(s: SessionApi, arg: string): Promise<void> {
    if (arg !== "") return s.reply(REPLIES.paramSyntax);
    if (s.tlsActive) return s.reply(REPLIES.alreadyTls);
    if (!s.tlsAvailable) return s.reply(REPLIES.tlsNotAvailable);
    if (s.helo === null) return s.reply(REPLIES.needHelo);
    if (s.tx !== null) return s.reply(REPLIES.badSequence);
    if (!(await s.startTls())) return;
    s.helo = null;
    s.esmtp = false;
    s.authUser = null;
    await s.resetTx();
  },
};
