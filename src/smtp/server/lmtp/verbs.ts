// The LMTP verb set (RFC 2033): LHLO instead of HELO/EHLO, SMTP's MAIL, RCPT, RSET, NOOP and QUIT,
// and DATA with one reply per accepted recipient. It is the base table of an LMTP server the way
// CORE_VERBS is of an SMTP one (../registry.ts); a user adds its own verbs (e.g. an AUTH mechanism)
// as extra verbs. With requireAuth, MAIL, RCPT and DATA get 530 until an AUTH verb has set the
// session's authUser, so a peer that has not authenticated learns nothing about recipients.
import type { ContentRules } from "../../../proto/dataframe.js";
import { REPLIES, type Reply } from "../../../proto/reply.js";
import { mail } from "../mail.js";
import { noop } from "../noop.js";
import { quit } from "../quit.js";
import { rcpt } from "../rcpt.js";
import { rset } from "../rset.js";
import type { SessionApi, Verb } from "../verb.js";
import { lmtpData } from "./data.js";
import type { LmtpHandler } from "./handler.js";
import { ehloRefused, heloRefused, lhlo } from "./lhlo.js";

export interface LmtpVerbOptions {
  readonly handler: LmtpHandler;
  /** What message text this listener takes (8-bit, NUL). */
  readonly content: ContentRules;
  readonly requireAuth: boolean;
}

export function lmtpVerbs(o: LmtpVerbOptions): readonly Verb[] {
  const ready = (s: SessionApi): Reply | null => {
    if (s.helo === null) return REPLIES.needLhlo;
    if (o.requireAuth && s.authUser === null) return REPLIES.authRequired;
    return null;
  };
  const gated = (v: Verb): Verb => ({
    name: v.name,
    run(s: SessionApi, arg: string): Promise<void> {
      const refuse = ready(s);
      if (refuse === null) return v.run(s, arg);
      s.reply(refuse);
      return Promise.resolve();
    },
  });
  return [
    lhlo,
    heloRefused,
    ehloRefused,
    gated(mail),
    gated(rcpt),
    lmtpData({ handler: o.handler, content: o.content, ready }),
    rset,
    noop,
    quit,
  ];
}
