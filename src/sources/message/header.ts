// The header block of an RFC 5322 message as the message sources see it: split from the body,
// fields unfolded for reading but kept byte for byte for writing back, fields removed or added,
// and the whole joined again with CRLF line ends. Input comes from scripts, files and HTTP
// clients: bare LF (the system's native line end, which the sendmail interface and the
// Submitted folder use) is turned into CRLF, and a header that is not header fields is refused.
// No I/O.
import { findHeaderEnd } from "../../proto/header-fields.js";
import { checkHeader, type HeaderLimitError, type HeaderLimits } from "../../proto/header-limit.js";
import { REPLIES, type Reply } from "../../proto/reply.js";

export interface HeaderField {
  /** The field name as written. */
  readonly name: string;
  /** The unfolded value, leading white space removed, decoded as UTF-8 (RFC 6532). */
  readonly value: string;
  /** The field's bytes as written, folded lines and the final CRLF included (latin1). */
  readonly raw: string;
}

export interface ParsedMessage {
  readonly fields: readonly HeaderField[];
  /** Everything after the blank line (CRLF line ends), or empty when there is none. */
  readonly body: Buffer;
}

/** RFC 5322 §3.6.8: printable ASCII except the colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
/** Fields longer than this (unfolded) are not believed to be a header. */
const MAX_FIELD = 64 * 1024;

export class HeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HeaderError";
  }
}

/** The header breaks smtp.maxHeaderBytes or smtp.maxHeaderFields; the message is the SMTP reply. */
export class HeaderLimitExceeded extends HeaderError {
  readonly reply: Reply;
  constructor(readonly limit: HeaderLimitError) {
    const r = limit === "headerTooBig" ? REPLIES.headerTooBig : REPLIES.tooManyHeaderFields;
    super(`${r.code} ${r.enhanced ?? ""} ${r.text}`);
    this.reply = r;
    this.name = "HeaderLimitExceeded";
  }
}

/** CRLF line ends throughout: a lone LF becomes CRLF, a lone CR is kept as data. */
export function toCrlf(message: Buffer): Buffer {
  if (!message.includes(0x0a)) return message;
  const out: Buffer[] = [];
  let start = 0;
  for (let i = message.indexOf(0x0a); i !== -1; i = message.indexOf(0x0a, i + 1)) {
    if (i > 0 && message[i - 1] === 0x0d) continue;
    out.push(message.subarray(start, i), CRLF);
    start = i + 1;
  }
  out.push(message.subarray(start));
  return Buffer.concat(out);
}

const CRLF = Buffer.from("\r\n");

/**
 * Split a message (CRLF line ends) into its header fields and body; HeaderError when it has none,
 * HeaderLimitExceeded when it breaks the given limits (checked before anything is parsed).
 */
export function parseMessage(message: Buffer, limits?: HeaderLimits): ParsedMessage {
  const over = limits ? checkHeader(message, limits) : null;
  if (over !== null) throw new HeaderLimitExceeded(over);
  // A message without a blank line is all header; one that starts with a blank line has none.
  if (message.subarray(0, 2).toString("latin1") === "\r\n")
    throw new HeaderError("the message has no header");
  const blank = findHeaderEnd(message);
  const headEnd = blank === null ? message.length : blank.start + 2;
  const head = message.subarray(0, headEnd).toString("latin1");
  const body = blank === null ? Buffer.alloc(0) : message.subarray(blank.end);
  const lines = head.split("\r\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const fields: HeaderField[] = [];
  let current: string[] = [];
  const flush = (): void => {
    if (current.length === 0) return;
    const raw = current.join("\r\n") + "\r\n";
    const colon = raw.indexOf(":");
    const name = raw.slice(0, colon).replace(/[ \t]+$/, "");
    if (!FIELD_NAME.test(name))
      throw new HeaderError(`bad header field name: ${JSON.stringify(name.slice(0, 40))}`);
    const unfolded = raw.slice(colon + 1, -2).replace(/\r\n(?=[ \t])/g, "");
    if (unfolded.length > MAX_FIELD) throw new HeaderError(`header field ${name} is too long`);
    const value = Buffer.from(unfolded, "latin1").toString("utf8").trim();
    fields.push({ name, value, raw });
    current = [];
  };
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (current.length === 0) throw new HeaderError("the header starts with a continuation line");
      current.push(line);
      continue;
    }
    flush();
    if (!line.includes(":"))
      throw new HeaderError(`not a header field: ${JSON.stringify(line.slice(0, 40))}`);
    current.push(line);
  }
  flush();
  if (fields.length === 0) throw new HeaderError("the message has no header");
  return { fields, body };
}

const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

export const hasField = (m: ParsedMessage, name: string): boolean =>
  m.fields.some((f) => sameName(f.name, name));

export const fieldValues = (m: ParsedMessage, names: readonly string[]): string[] =>
  m.fields.filter((f) => names.some((n) => sameName(f.name, n))).map((f) => f.value);

/** The message without the named fields. */
export function withoutFields(m: ParsedMessage, names: readonly string[]): ParsedMessage {
  return { ...m, fields: m.fields.filter((f) => !names.some((n) => sameName(f.name, n))) };
}

/** A new field; the value must be one line (callers build it from checked parts). */
export function field(name: string, value: string): HeaderField {
  if (/[\r\n]/.test(value)) throw new HeaderError(`header field ${name} must be one line`);
  return { name, value, raw: `${name}: ${Buffer.from(value, "utf8").toString("latin1")}\r\n` };
}

/** Fields first (in order), then the blank line and the body. */
export function joinMessage(fields: readonly HeaderField[], body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(fields.map((f) => f.raw).join(""), "latin1"), CRLF, body]);
}
