// Internationalised domain names (IDNA 2008, RFC 5890-5891) in the one form Mailyard keeps and
// compares: A-labels ("xn--bcher-kva.test"), lower-case. Why A-labels and not U-labels: they
// are what DNS and every SMTP peer without SMTPUTF8 take (RFC 6531 §3.7.1: EHLO and envelope
// domains go as A-labels then), they are plain ASCII for Maildir folder names and SQL keys, and
// a U-label maps to exactly one A-label while the way back needs the same checks again. Users
// may type either form and mail may arrive in either; both meet here. No I/O.
//
// The mapping is node's url.domainToASCII: UTS #46 non-transitional processing (case folding,
// NFC, the IDNA 2008 code point rules; "ß" stays "ß", not "ss"). UTS #46 leaves the hyphen
// rules out (CheckHyphens=false), so the leading and trailing hyphen ban of RFC 5891 §4.2.3.1
// is checked here. Input is untrusted; nothing here throws.
import { domainToASCII, domainToUnicode } from "node:url";

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;
const A_LABEL = /(?:^|\.)xn--/i;

export const isAscii = (text: string): boolean => !NON_ASCII.test(text);

/**
 * The domain with every U-label as its A-label (lower-case), or null when it is no valid IDN
 * (a label IDNA 2008 refuses, or an "xn--" label that is not valid Punycode). ASCII names
 * without A-labels come back unchanged, case included: their syntax is the caller's to check.
 */
export function toAsciiDomain(domain: string): string | null {
  if (isAscii(domain) && !A_LABEL.test(domain)) return domain;
  const ascii = domainToASCII(domain);
  if (ascii === "") return null;
  const labels = domainToUnicode(ascii).split(".");
  if (labels.some((l) => l.startsWith("-") || l.endsWith("-"))) return null;
  return ascii;
}

/**
 * The address with its domain in A-labels (the local part as it is), or null when the domain is
 * no valid IDN. An address without "@" comes back unchanged.
 */
export function toAsciiAddress(address: string): string | null {
  const at = address.lastIndexOf("@");
  if (at < 0) return address;
  const domain = toAsciiDomain(address.slice(at + 1));
  return domain === null ? null : `${address.slice(0, at + 1)}${domain}`;
}
