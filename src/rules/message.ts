// The message as rules see it: envelope, parsed header fields, size, the raw source and the
// current time. Built once per message by the caller (delivery or the enqueuer); the seed rules
// and the Sieve interpreter only read it, so both stay pure. Header bytes are untrusted: the
// parser bounds the number of fields and never throws.
import libmime from "libmime";
import { fieldColon } from "../proto/header-limit.js";

export interface HeaderField {
  /** The name as written (case kept); compare with sameName(). */
  readonly name: string;
  /** The value unfolded (CRLF + WSP → WSP), leading whitespace trimmed, trailing CRLF dropped. */
  readonly value: string;
  /**
   * The field's bytes as received, folded lines and line end included: a field that rules left
   * alone is written back with these. Absent on fields rules made.
   */
  readonly raw?: Buffer;
}

export interface MessageView {
  /** Reverse path without brackets; "" is the null sender. */
  readonly envelopeFrom: string;
  /** Envelope recipients (final addresses). */
  readonly recipients: readonly string[];
  /** The recipient whose rules run (account rules) or null (server/cluster rules). */
  readonly recipient: string | null;
  /** Where the message came from: the queue's message source (smtp, submission, rule, …). */
  readonly source: string;
  /** The submitting client's IP address, or "" when generated here. */
  readonly submitAddress: string;
  readonly authenticated: boolean;
  readonly headers: readonly HeaderField[];
  readonly size: number;
  readonly raw: Buffer;
  /** Offset of the body in raw (after the blank line), raw.length when there is none. */
  readonly bodyOffset: number;
  /** The current time, ms since the epoch (the injected clock). */
  readonly now: number;
  /** Minutes east of UTC for Current Day / Time Of Day / Sieve currentdate (0 = UTC). */
  readonly zoneOffset: number;
}

const MAX_FIELDS = 1000;

/**
 * Splits a message into its header fields and the offset where the body starts: at the empty
 * line, or at the first line that is not a field (as the inbound limits measure it). One pass over
 * the lines that looks at their first bytes only; each field's value is read once, when it ends
 * (a field folded over thousands of lines costs one string, not one per line).
 */
export function parseHeader(raw: Buffer): { headers: HeaderField[]; bodyOffset: number } {
  const headers: HeaderField[] = [];
  let pos = 0;
  let current: { name: string; start: number; valueStart: number } | null = null;
  const flush = (end: number): void => {
    if (current && headers.length < MAX_FIELDS) {
      headers.push({
        name: current.name,
        // unfolding: every line end goes, with the CR before it (RFC 5322 §2.2.3)
        value: raw
          .toString("latin1", current.valueStart, end)
          .replace(/\r?\n/g, "")
          .replace(/^[ \t]+/, "")
          .trimEnd(),
        raw: raw.subarray(current.start, end),
      });
    }
    current = null;
  };
  while (pos < raw.length) {
    let end = raw.indexOf(0x0a, pos);
    if (end < 0) end = raw.length;
    const next = end + 1;
    // the line without its CR
    const stop = end > pos && raw[end - 1] === 0x0d ? end - 1 : end;
    if (stop === pos) {
      flush(pos);
      return { headers: decodeAll(headers), bodyOffset: Math.min(next, raw.length) };
    }
    const first = raw[pos];
    if ((first === 0x20 || first === 0x09) && current) {
      // a continuation line: the field's value runs on
    } else {
      flush(pos);
      // a line that is not a field starts the body, where the inbound header limits stop
      // counting (proto/header-limit.ts): nothing past them is read as header
      const colon = fieldColon(raw, pos, stop);
      if (colon < 0) return { headers: decodeAll(headers), bodyOffset: pos };
      current = { name: raw.toString("latin1", pos, colon).trimEnd(), start: pos, valueStart: colon + 1 };
    }
    pos = next;
  }
  flush(raw.length);
  return { headers: decodeAll(headers), bodyOffset: raw.length };
}

// Header bytes were read as latin1 to find lines; re-read each value as UTF-8 (RFC 6532).
function decodeAll(fields: HeaderField[]): HeaderField[] {
  return fields.map((f) => ({
    name: f.name,
    value: Buffer.from(f.value, "latin1").toString("utf8"),
    ...(f.raw !== undefined ? { raw: f.raw } : {}),
  }));
}

/**
 * A header section written back after rules edited it: fields that came from the message keep
 * their bytes as received (an 8-bit value in a charset other than UTF-8 is not rewritten), new
 * or changed ones are written from their value; then the empty line.
 */
export function headerBytes(fields: readonly HeaderField[]): Buffer {
  const parts = fields.map((h) => {
    if (h.raw === undefined) return Buffer.from(`${h.name}: ${h.value}\r\n`, "utf8");
    const last = h.raw[h.raw.length - 1];
    // the last field before a body-less end of input may lack its line end
    return last === 0x0a ? h.raw : Buffer.concat([h.raw, Buffer.from("\r\n")]);
  });
  return Buffer.concat([...parts, Buffer.from("\r\n")]);
}

export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function fieldValues(view: { readonly headers: readonly HeaderField[] }, name: string): string[] {
  return view.headers.filter((h) => sameName(h.name, name)).map((h) => h.value);
}

/** Builds a view from raw bytes and an envelope (the caller supplies the rest). */
export function messageView(
  raw: Buffer,
  env: Omit<MessageView, "headers" | "size" | "raw" | "bodyOffset">,
): MessageView {
  const { headers, bodyOffset } = parseHeader(raw);
  return { ...env, headers, size: raw.length, raw, bodyOffset };
}

/**
 * Decodes RFC 2047 encoded words (B and Q, RFC 2231 language suffixes) in a header value with
 * libmime: every charset iconv-lite or encoding-japanese knows (ISO-2022-JP, Shift_JIS, EUC-JP,
 * GB18030, Big5, KOI8-R, windows-125x, …); adjacent words are joined first, so a character
 * split across two words comes out whole (RFC 2047 §6.2). A word in a charset nobody knows is
 * read as UTF-8; text outside encoded words is left as it is.
 */
export function decodeWords(value: string): string {
  if (!value.includes("=?")) return value;
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/;

/**
 * Text a rule writes into a header field (Add Header, Tag Subject, addheader): non-ASCII words
 * become UTF-8 encoded words, folded between words, so the field stays ASCII and the message
 * needs no SMTPUTF8 (RFC 2047 §5, RFC 5293 §4). ASCII text is written as it is.
 */
export function encodeFieldText(text: string): string {
  if (!NON_ASCII.test(text)) return text;
  return libmime.encodeWords(text, "B", 52, "UTF-8").replace(/\?= =\?/g, "?=\r\n =?");
}

/**
 * A Subject value with a tag in front (Tag Subject). White space between two encoded words is
 * not text (RFC 2047 §6.2), so a non-ASCII tag is encoded together with the decoded subject.
 */
export function tagSubject(tag: string, value: string): string {
  if (!NON_ASCII.test(tag)) return `${tag} ${value}`;
  return encodeFieldText(`${tag} ${decodeWords(value)}`);
}
