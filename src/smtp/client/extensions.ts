// The service extensions a server announced in its EHLO reply (RFC 5321 §4.1.1.1). No I/O.
// The reply text is untrusted: unknown keywords are ignored, a malformed SIZE reads as "no limit
// announced", AUTH mechanisms are kept only when they read as SASL names (RFC 4422 §3.1).
import type { Reply } from "../../proto/reply.js";

export interface Extensions {
  readonly esmtp: boolean;
  readonly pipelining: boolean;
  /** SIZE limit in bytes; 0 = announced without a limit; null = not announced. */
  readonly size: number | null;
  readonly eightBitMime: boolean;
  readonly smtputf8: boolean;
  readonly dsn: boolean;
  readonly starttls: boolean;
  readonly chunking: boolean;
  /** RFC 3030 BINARYMIME (only usable with BDAT). */
  readonly binaryMime: boolean;
  readonly enhancedStatusCodes: boolean;
  /** RFC 8689 REQUIRETLS (a server offers it only inside TLS). */
  readonly requireTls: boolean;
  /** SASL mechanisms offered with AUTH (RFC 4954 §3), upper case; empty = AUTH not offered. */
  readonly auth: readonly string[];
}

/** What a server that only answered HELO supports: nothing. */
export const NO_EXTENSIONS: Extensions = {
  esmtp: false,
  pipelining: false,
  size: null,
  eightBitMime: false,
  smtputf8: false,
  dsn: false,
  starttls: false,
  chunking: false,
  binaryMime: false,
  enhancedStatusCodes: false,
  requireTls: false,
  auth: [],
};

/** RFC 4422 §3.1: 1 to 20 of upper-case letters, digits, "-" and "_". */
const SASL_NAME = /^[A-Z0-9_-]{1,20}$/;

export function parseExtensions(ehlo: Reply): Extensions {
  let size: number | null = null;
  const seen = new Set<string>();
  const auth = new Set<string>();
  // The first line is the server's greeting name, not an extension.
  for (const line of ehlo.text.split("\n").slice(1)) {
    const [first = "", ...rest] = line.trim().split(/\s+/);
    // "AUTH=PLAIN LOGIN" is the pre-standard form some servers still send beside "AUTH PLAIN LOGIN".
    const [keyword = "", ...params] = /^AUTH=/i.test(first)
      ? ["AUTH", first.slice(5), ...rest]
      : [first, ...rest];
    const k = keyword.toUpperCase();
    seen.add(k);
    if (k === "AUTH") for (const m of params) if (SASL_NAME.test(m.toUpperCase())) auth.add(m.toUpperCase());
    if (k === "SIZE") {
      const n = params[0] === undefined ? 0 : Number(params[0]);
      size = Number.isSafeInteger(n) && n >= 0 ? n : 0;
    }
  }
  return {
    esmtp: true,
    pipelining: seen.has("PIPELINING"),
    size,
    eightBitMime: seen.has("8BITMIME"),
    smtputf8: seen.has("SMTPUTF8"),
    dsn: seen.has("DSN"),
    starttls: seen.has("STARTTLS"),
    chunking: seen.has("CHUNKING"),
    binaryMime: seen.has("BINARYMIME"),
    enhancedStatusCodes: seen.has("ENHANCEDSTATUSCODES"),
    requireTls: seen.has("REQUIRETLS"),
    auth: [...auth],
  };
}
