// POP3 framing (RFC 1939 §3) without I/O: status lines, multi-line responses (CRLF line endings,
// dot-stuffing, the "." terminator), the size a message has on the wire, and TOP's cut of a
// message. Message bytes come from Maildir files that other programs may have written with bare
// LF line endings; everything sent is CRLF, and sizes are counted the same way (§11: the size
// is of the message as transmitted, line endings as CRLF, before dot-stuffing).
import { findHeaderEnd } from "./header-fields.js";

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** "+OK text" CRLF. Text must not contain line breaks (callers build it from safe parts). */
export const okLine = (text = ""): string => (text === "" ? "+OK\r\n" : `+OK ${text}\r\n`);
/** "-ERR text" CRLF. */
export const errLine = (text: string): string => `-ERR ${text}\r\n`;

/** Octets of the message with every line ending as CRLF (RFC 1939 LIST/STAT sizes). */
export function wireSize(message: Buffer): number {
  let bareLf = 0;
  for (let i = message.indexOf(LF); i >= 0; i = message.indexOf(LF, i + 1)) {
    if (i === 0 || message[i - 1] !== CR) bareLf++;
  }
  const last = message.length > 0 ? message[message.length - 1] : LF;
  // A last line without its line ending is sent with one (multiLine adds it).
  const tail = last === LF ? 0 : last === CR ? 1 : 2;
  return message.length + bareLf + tail;
}

/**
 * The body of a multi-line response: lines as CRLF, a "." at the start of a line doubled, the
 * last line ended, then the terminating ".\r\n" (RFC 1939 §3).
 */
export function multiLine(message: Buffer): Buffer {
  const out: Buffer[] = [];
  let start = 0;
  while (start < message.length) {
    let lf = message.indexOf(LF, start);
    const last = lf < 0;
    if (last) lf = message.length;
    let end = lf;
    if (end > start && message[end - 1] === CR) end--;
    if (message[start] === DOT) out.push(Buffer.from("."));
    out.push(message.subarray(start, end), Buffer.from("\r\n"));
    start = lf + 1;
  }
  out.push(Buffer.from(".\r\n"));
  return Buffer.concat(out);
}

/** The header section, the blank line and the first `lines` body lines (TOP msg n, §7). */
export function topOf(message: Buffer, lines: number): Buffer {
  // Header: up to and including the first empty line.
  const blank = findHeaderEnd(message);
  if (blank === null) return message;
  let pos = blank.end;
  for (let n = 0; n < lines; n++) {
    const lf = message.indexOf(LF, pos);
    if (lf < 0) return message;
    pos = lf + 1;
  }
  return message.subarray(0, pos);
}

/** A message number argument: 1..count, decimal digits only (no signs, no spaces). */
export function parseMessageNumber(arg: string): number | null {
  if (!/^[0-9]{1,9}$/.test(arg)) return null;
  const n = Number(arg);
  return n >= 1 ? n : null;
}

/**
 * A unique-id for UIDL (RFC 1939 §7): 1 to 70 characters from 0x21 to 0x7E. Maildir base names
 * usually are one; anything else is replaced by a digest, which is just as stable.
 */
export function isUidl(text: string): boolean {
  return /^[\x21-\x7e]{1,70}$/.test(text);
}
