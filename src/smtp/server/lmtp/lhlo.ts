// LHLO (RFC 2033 §4.1): LMTP's EHLO. Starts the session (and ends any transaction) and lists the
// extensions; HELO and EHLO are refused (500: this is LMTP). The argument is the peer's claimed
// name, untrusted: one token, kept to 255 characters, used in logs and the job's client record.
import { REPLIES } from "../../../proto/reply.js";
import type { SessionApi, Verb } from "../verb.js";

export const lhlo: Verb = {
  name: "LHLO",
  async run(s: SessionApi, arg: string): Promise<void> {
    if (arg === "" || arg.includes(" ")) return s.reply(REPLIES.paramSyntax);
    await s.resetTx();
    s.helo = arg.slice(0, 255);
    s.esmtp = true;
    const lines = [
      "PIPELINING",
      "ENHANCEDSTATUSCODES",
      "8BITMIME",
      "SMTPUTF8",
      `SIZE ${s.settings.smtp.maxMessageSize}`,
      "DSN",
    ];
    for (const v of s.verbs.values()) lines.push(...(v.advertise?.(s) ?? []));
    s.reply(REPLIES.lhloOk({ host: s.settings.hostname, extensions: lines.join("\n") }));
  },
};

const useLhlo = (name: string): Verb => ({
  name,
  run(s: SessionApi): Promise<void> {
    s.reply(REPLIES.useLhlo);
    return Promise.resolve();
  },
});

export const heloRefused = useLhlo("HELO");
export const ehloRefused = useLhlo("EHLO");
