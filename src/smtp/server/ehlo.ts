// EHLO (RFC 5321 §4.1.1.1): starts an ESMTP session (and ends any transaction) and lists the
// extensions. The argument is the client's claimed name, untrusted: it is checked for shape only
// and used in logs and Received: headers.
import { REPLIES } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

// A domain or address literal, loosely: one token of printable ASCII (many clients send a bare
// hostname or an IP without brackets; Postfix accepts those too).
export const HELO_NAME = /^[\x21-\x7e]{1,255}$/;

/** Extensions every session has (verbs add their own: CHUNKING, STARTTLS, AUTH, HELP). */
function coreExtensions(s: SessionApi): string[] {
  return [
    "PIPELINING",
    `SIZE ${s.settings.smtp.maxMessageSize}`,
    "8BITMIME",
    "SMTPUTF8",
    "ENHANCEDSTATUSCODES",
    "DSN",
  ];
}

/**
 * What EHLO and HELO both do before their answer: refuse a bad name (501), end any transaction
 * and start the session as ESMTP or plain SMTP. False when refused (the reply is sent).
 */
export async function greeted(s: SessionApi, arg: string, esmtp: boolean): Promise<boolean> {
  if (!HELO_NAME.test(arg)) {
    s.reply(REPLIES.paramSyntax);
    return false;
  }
  await s.resetTx();
  s.helo = arg;
  s.esmtp = esmtp;
  return true;
}

export const ehlo: Verb = {
  name: "EHLO",
  async run(s: SessionApi, arg: string): Promise<void> {
    if (!(await greeted(s, arg, true))) return;
    const lines = coreExtensions(s);
    for (const v of s.verbs.values()) lines.push(...(v.advertise?.(s) ?? []));
    s.reply(REPLIES.ehloOk({ host: s.settings.hostname, name: arg, extensions: lines.join("\n") }));
  },
};
