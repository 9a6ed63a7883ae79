// DATA on an LMTP server (RFC 2033 §4.2): the same framing as SMTP's DATA (the session's
// receiveData: CRLF.CRLF only, bare CR/LF refused, size and line limits, the content rules of
// this listener), the message held whole, then one reply per accepted recipient, in RCPT order,
// from the handler. A transaction without a successful RCPT gets 503 (§4.2), not SMTP's 554.
import type { ContentRules } from "../../../proto/dataframe.js";
import { REPLIES, type Reply } from "../../../proto/reply.js";
import type { MessageSink } from "../../handler.js";
import type { SessionApi, Verb } from "../verb.js";
import type { LmtpHandler } from "./handler.js";

export interface LmtpDataOptions {
  readonly handler: LmtpHandler;
  readonly content: ContentRules;
  /** Why the session may not send mail yet (no LHLO, no AUTH), or null. */
  readonly ready: (s: SessionApi) => Reply | null;
}

export function lmtpData(o: LmtpDataOptions): Verb {
  return {
    name: "DATA",
    async run(s: SessionApi, arg: string): Promise<void> {
      if (arg !== "") return s.reply(REPLIES.paramSyntax);
      const refuse = o.ready(s);
      if (refuse !== null) return s.reply(refuse);
      const tx = s.tx;
      if (tx === null) return s.reply(REPLIES.needMail);
      if (tx.rcpts.length === 0)
        return s.reply(tx.rcptAttempts > 0 ? REPLIES.lmtpNoRecipients : REPLIES.needRcpt);
      s.reply(REPLIES.startData);
      let parts: Buffer[] = [];
      let message: Buffer | null = null;
      const held: MessageSink = {
        write: (chunk) => {
          parts.push(chunk);
          return Promise.resolve();
        },
        end: () => {
          message = Buffer.concat(parts);
          return Promise.resolve(REPLIES.ok);
        },
        abort: () => {
          parts = [];
          return Promise.resolve();
        },
      };
      const r = await s.receiveData(held, o.content);
      s.tx = null;
      if (r === null) return;
      const got = message === null ? { refused: r } : { message };
      const replies = await s.safely("deliverEach", () => o.handler.deliverEach(s.info(), tx, got));
      for (let i = 0; i < tx.rcpts.length; i++) s.reply(replies?.[i] ?? REPLIES.localError);
    },
  };
}
