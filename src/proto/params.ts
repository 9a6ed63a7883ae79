// ESMTP parameters of MAIL FROM and RCPT TO: SIZE (RFC 1870), BODY (RFC 6152, RFC 3030),
// SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461), REQUIRETLS (RFC 8689) and AUTH= (RFC 4954, accepted and
// ignored: we do not trust another server's claim about who submitted the message). Input is
// the untrusted text after the path; results are values. No I/O.
//
// Unknown keywords get 555 5.5.4 (RFC 5321 §4.1.1.11); a keyword given twice or a bad value
// gets 501 5.5.4.
import { REPLIES, type Reply } from "./reply.js";

/** The MAIL FROM parameters a message keeps past receipt: in its envelope, and to the next hop. */
export interface CarriedMailParameters {
  /** RFC 3461 RET and ENVID (xtext-decoded). */
  readonly ret: "FULL" | "HDRS" | null;
  readonly envid: string | null;
  /** BODY= of MAIL FROM (RFC 6152 / RFC 3030). */
  readonly body: "7BIT" | "8BITMIME" | "BINARYMIME";
  readonly smtputf8: boolean;
  /**
   * RFC 8689 REQUIRETLS: every hop must be verified TLS to a server that offers REQUIRETLS, or
   * the message comes back. Absent: false.
   */
  readonly requireTls?: boolean;
}

export interface MailParameters extends CarriedMailParameters {
  readonly size: number | null;
  readonly requireTls: boolean;
}

export type NotifyWhen = "SUCCESS" | "FAILURE" | "DELAY";

export interface RcptParameters {
  readonly notify: "NEVER" | readonly NotifyWhen[] | null;
  readonly orcpt: string | null;
}

export type ParamsResult<T> =
  { readonly ok: true; readonly params: T } | { readonly ok: false; readonly reply: Reply };

/** RFC 3461 §4.4: ENVID at most 100 characters; §4.2: ORCPT at most 500. */
const MAX_ENVID = 100;
const MAX_ORCPT = 500;

const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
// esmtp-value: %d33-60 / %d62-126, plus UTF-8 when SMTPUTF8 is in force (RFC 6531 §3.3).
const VALUE = /^[\x21-\x3c\x3e-\x7e\u0080-\u{10FFFF}]+$/u;
const XTEXT = /^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$/;

/** Decodes xtext (RFC 3461 §4): "+HH" is an octet; the octets are read as UTF-8. Null if malformed. */
export function xtextDecode(text: string): string | null {
  if (!XTEXT.test(text)) return null;
  if (!text.includes("+")) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "+") {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(text.charCodeAt(i));
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Encodes octets outside "!".."~", and "+" and "=", as "+HH" (RFC 3461 §4). */
export function xtextEncode(text: string): string {
  let out = "";
  for (const b of Buffer.from(text, "utf8")) {
    out +=
      b < 0x21 || b > 0x7e || b === 0x2b || b === 0x3d
        ? `+${b.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(b);
  }
  return out;
}

/** Splits "K=V K2 ..." into upper-cased keywords and raw values; duplicates and bad syntax fail. */
export function splitParams(text: string): ParamsResult<ReadonlyMap<string, string | null>> {
  const out = new Map<string, string | null>();
  if (text.trim() === "") return { ok: true, params: out };
  for (const token of text.trim().split(/ +/)) {
    const eq = token.indexOf("=");
    const key = (eq < 0 ? token : token.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? null : token.slice(eq + 1);
    if (!KEYWORD.test(key) || (value !== null && !VALUE.test(value)))
      return { ok: false, reply: REPLIES.paramSyntax };
    if (out.has(key)) return { ok: false, reply: REPLIES.paramSyntax };
    out.set(key, value);
  }
  return { ok: true, params: out };
}

const fail = <T>(reply: Reply): ParamsResult<T> => ({ ok: false, reply });

export function parseMailParams(text: string): ParamsResult<MailParameters> {
  const split = splitParams(text);
  if (!split.ok) return split;
  let size: number | null = null;
  let body: MailParameters["body"] = "7BIT";
  let smtputf8 = false;
  let ret: MailParameters["ret"] = null;
  let envid: string | null = null;
  let requireTls = false;
  for (const [key, value] of split.params) {
    switch (key) {
      case "SIZE":
        if (value === null || !/^\d{1,20}$/.test(value)) return fail(REPLIES.paramSyntax);
        // Past 2^53 the exact number does not matter: it is over any limit.
        size = value.length > 15 ? Number.MAX_SAFE_INTEGER : Number(value);
        break;
      case "BODY": {
        const v = value?.toUpperCase();
        if (v !== "7BIT" && v !== "8BITMIME" && v !== "BINARYMIME") return fail(REPLIES.paramSyntax);
        body = v;
        break;
      }
      case "SMTPUTF8":
        if (value !== null) return fail(REPLIES.paramSyntax);
        smtputf8 = true;
        break;
      case "RET": {
        const v = value?.toUpperCase();
        if (v !== "FULL" && v !== "HDRS") return fail(REPLIES.paramSyntax);
        ret = v;
        break;
      }
      case "ENVID": {
        const v = value === null ? null : xtextDecode(value);
        if (v === null || value === null || value.length > MAX_ENVID) return fail(REPLIES.paramSyntax);
        envid = v;
        break;
      }
      case "AUTH":
        if (value === null || (value !== "<>" && xtextDecode(value) === null))
          return fail(REPLIES.paramSyntax);
        break;
      case "REQUIRETLS":
        if (value !== null) return fail(REPLIES.paramSyntax);
        requireTls = true;
        break;
      default:
        return fail(REPLIES.paramUnknown);
    }
  }
  return { ok: true, params: { size, body, smtputf8, ret, envid, requireTls } };
}

export function parseRcptParams(text: string): ParamsResult<RcptParameters> {
  const split = splitParams(text);
  if (!split.ok) return split;
  let notify: RcptParameters["notify"] = null;
  let orcpt: string | null = null;
  for (const [key, value] of split.params) {
    switch (key) {
      case "NOTIFY": {
        const items = (value ?? "").toUpperCase().split(",");
        if (items.length === 1 && items[0] === "NEVER") {
          notify = "NEVER";
          break;
        }
        const when: NotifyWhen[] = [];
        for (const it of items) {
          if ((it !== "SUCCESS" && it !== "FAILURE" && it !== "DELAY") || when.includes(it)) {
            return fail(REPLIES.paramSyntax);
          }
          when.push(it);
        }
        notify = when;
        break;
      }
      case "ORCPT": {
        const semi = value?.indexOf(";") ?? -1;
        if (value === null || value.length > MAX_ORCPT || semi <= 0) return fail(REPLIES.paramSyntax);
        const type = value.slice(0, semi);
        const addr = xtextDecode(value.slice(semi + 1));
        if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(type) || addr === null || addr === "")
          return fail(REPLIES.paramSyntax);
        orcpt = `${type};${addr}`;
        break;
      }
      default:
        return fail(REPLIES.paramUnknown);
    }
  }
  return { ok: true, params: { notify, orcpt } };
}
