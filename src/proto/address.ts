// Envelope paths of MAIL FROM and RCPT TO (RFC 5321 §4.1.2, RFC 6531 for SMTPUTF8). Input is the
// untrusted command argument; output is either a validated mailbox (source route stripped, an
// internationalised domain as A-labels) or the Reply to send. Nothing here throws on bad input.
// No I/O.
//
// Leniencies, each deliberate: spaces after the colon ("MAIL FROM: <a@b.test>") are accepted as
// Postfix does, since old clients send them and they cannot change the meaning; the keyword is
// case-insensitive (RFC 5321 §2.4). Angle brackets are required.
import { isIPv4, isIPv6 } from "node:net";
import { toAsciiDomain } from "./idna.js";
import { REPLIES, type Reply } from "./reply.js";

export type PathRole = "sender" | "recipient";

export type SplitPath =
  | {
      readonly ok: true;
      /** Text between the angle brackets. */ readonly path: string;
      readonly params: string;
    }
  | { readonly ok: false; readonly reply: Reply };

export type MailboxResult =
  | {
      readonly ok: true;
      /** "" for the null path; "Postmaster" for RCPT TO:<Postmaster>. */ readonly address: string;
    }
  | { readonly ok: false; readonly reply: Reply };

/** RFC 5321 §4.5.3.1: octet limits. */
export const MAX_LOCAL_PART = 64;
export const MAX_DOMAIN = 255;
export const MAX_PATH = 256;

const syntaxReply = (role: PathRole): Reply =>
  role === "sender" ? REPLIES.badSenderSyntax : REPLIES.badRecipientSyntax;

/**
 * Splits "FROM:<path> params" (keyword "FROM") or "TO:<path> params" (keyword "TO"). The closing
 * bracket is found outside quoted strings so `<"a>b"@x.test>` stays one path.
 */
export function splitPath(arg: string, keyword: "FROM" | "TO"): SplitPath {
  const role: PathRole = keyword === "FROM" ? "sender" : "recipient";
  const head = keyword.length + 1;
  if (arg.length < head || arg.slice(0, head).toUpperCase() !== `${keyword}:`) {
    return { ok: false, reply: REPLIES.paramSyntax };
  }
  let i = head;
  while (arg.charCodeAt(i) === 0x20) i++;
  if (arg[i] !== "<") return { ok: false, reply: syntaxReply(role) };
  const open = i;
  let quoted = false;
  for (i = open + 1; i < arg.length; i++) {
    const c = arg[i];
    if (quoted && c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (c === ">" && !quoted) break;
  }
  if (i >= arg.length) return { ok: false, reply: syntaxReply(role) };
  const rest = arg.slice(i + 1);
  if (rest !== "" && rest[0] !== " ") return { ok: false, reply: syntaxReply(role) };
  return { ok: true, path: arg.slice(open + 1, i), params: rest.trim() };
}

const ATEXT = "A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~";
const DOT_ASCII = new RegExp(`^[${ATEXT}]+(?:\\.[${ATEXT}]+)*$`);
const DOT_UTF8 = new RegExp(`^[${ATEXT}\\u0080-\\u{10FFFF}]+(?:\\.[${ATEXT}\\u0080-\\u{10FFFF}]+)*$`, "u");
const QUOTED_ASCII = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/;
const QUOTED_UTF8 = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])*"$/u;
const LABEL_ASCII = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
// U-labels (RFC 6531 §3.3): non-ASCII letters allowed; IDNA validity is the resolver's concern.
const LABEL_UTF8 =
  /^[A-Za-z0-9\u0080-\u{10FFFF}](?:[A-Za-z0-9\u0080-\u{10FFFF}-]*[A-Za-z0-9\u0080-\u{10FFFF}])?$/u;
// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;
// Source route: "@a.test,@b.test:" (RFC 5321 §4.1.2 A-d-l), accepted and ignored (§C).
const SOURCE_ROUTE = /^@[^,:]+(?:,@[^,:]+)*:/;

const octets = (s: string): number => Buffer.byteLength(s, "utf8");

/** True when text is a valid domain or address literal. */
export function isDomain(text: string, utf8: boolean): boolean {
  if (text.startsWith("[")) {
    if (!text.endsWith("]")) return false;
    const lit = text.slice(1, -1);
    if (/^IPv6:/i.test(lit)) return isIPv6(lit.slice(5));
    return isIPv4(lit);
  }
  if (text === "" || octets(text) > MAX_DOMAIN) return false;
  const label = utf8 ? LABEL_UTF8 : LABEL_ASCII;
  for (const l of text.split(".")) {
    if (octets(l) > 63 || !label.test(l)) return false;
  }
  return true;
}

/**
 * Validates the text between the brackets. utf8: the transaction carries SMTPUTF8.
 * allowNull: MAIL's "<>"; allowPostmaster: RCPT's bare "<Postmaster>" (RFC 5321 §4.1.1.3).
 */
export function parseMailbox(
  path: string,
  o: { readonly role: PathRole; readonly utf8: boolean },
): MailboxResult {
  const bad: MailboxResult = { ok: false, reply: syntaxReply(o.role) };
  if (octets(path) + 2 > MAX_PATH) return bad;
  if (path === "") return o.role === "sender" ? { ok: true, address: "" } : bad;
  if (o.role === "recipient" && path.toLowerCase() === "postmaster")
    return { ok: true, address: "Postmaster" };
  const route = SOURCE_ROUTE.exec(path);
  let mailbox = path;
  if (route) {
    for (const hop of route[0].slice(0, -1).split(",")) {
      if (!isDomain(hop.slice(1), o.utf8)) return bad;
    }
    mailbox = path.slice(route[0].length);
  }
  if (!o.utf8 && NON_ASCII.test(mailbox)) return { ok: false, reply: REPLIES.utf8NotEnabled };
  const at = mailbox.lastIndexOf("@");
  if (at <= 0) return bad;
  const local = mailbox.slice(0, at);
  const domain = mailbox.slice(at + 1);
  if (octets(local) > MAX_LOCAL_PART) return bad;
  const localOk = local.startsWith('"')
    ? (o.utf8 ? QUOTED_UTF8 : QUOTED_ASCII).test(local)
    : (o.utf8 ? DOT_UTF8 : DOT_ASCII).test(local);
  if (!localOk || !isDomain(domain, o.utf8)) return bad;
  // A U-label domain (only with SMTPUTF8, checked above) is kept in its A-label form from here
  // on (proto/idna.ts), so lookups, routing and peers without SMTPUTF8 see one spelling; an
  // "xn--" label must be valid Punycode. Other ASCII domains pass as sent.
  const ascii = toAsciiDomain(domain);
  if (ascii === null) return bad;
  return { ok: true, address: ascii === domain ? mailbox : `${local}@${ascii}` };
}
