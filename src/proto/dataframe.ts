// Streaming decoder for the DATA phase (RFC 5321 §4.1.1.4, §4.5.2): feed it the untrusted bytes
// as they arrive, in chunks split anywhere; it hands back the message with dot-stuffing removed
// and the bytes that followed the terminator (pipelined commands).
//
// Invariants:
// - The end is recognised ONLY at <CRLF>.<CRLF> (or "." CRLF as the very first line). A bare CR
//   or bare LF anywhere never ends the data and marks the message as bad (REPLIES.bareLineEnding):
//   this is what stops SMTP smuggling (CVE-2023-51764 and kin: "\n.\n", "\r.\r", "\r\n.\n",
//   "\n.\r\n"), where a receiver that ends data on a sloppy terminator lets a second, forged
//   message ride inside the first.
// - After the first error nothing more is handed out, but the decoder keeps scanning for the real
//   terminator so the session stays in step with the client and can then reply.
// - The header section's size and field count are limited too when asked (header-limit.ts).
// - Scanning uses Buffer.indexOf for CR and LF; no per-byte JS loop over line contents.
// - The same decoder checks BDAT chunks ("bdat" framing: no dots, no terminator, close() at
//   LAST), so text received either way obeys one set of rules: CRLF only, the line limit, and
//   the content the client declared (RFC 6152 §3: 8-bit only with BODY=8BITMIME or SMTPUTF8;
//   NUL only with BODY=BINARYMIME, RFC 3030 §3). A BINARYMIME body is not text and is never fed
//   to it. Every node applies these rules before its 250, so no cluster member refuses later
//   what another accepted (that refusal would become a bounce to a forged sender).
import { isAscii } from "node:buffer";
import type { Reply } from "./reply.js";
import { REPLIES } from "./reply.js";
import { HeaderMeter, type HeaderLimitError, type HeaderLimits } from "./header-limit.js";

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

export type DataError = "bareLineEnding" | "tooBig" | "lineTooLong" | "eightBit" | "nul" | HeaderLimitError;

/** The reply for each way message text can break the rules (DATA, BDAT, the delivery channel). */
export const DATA_ERROR_REPLIES: Readonly<Record<DataError, Reply>> = {
  bareLineEnding: REPLIES.bareLineEnding,
  tooBig: REPLIES.messageTooBig,
  lineTooLong: REPLIES.dataLineTooLong,
  eightBit: REPLIES.eightBitUndeclared,
  nul: REPLIES.nulInText,
  headerTooBig: REPLIES.headerTooBig,
  tooManyFields: REPLIES.tooManyHeaderFields,
};

/** Which bytes besides 7-bit text the message may hold. */
export interface ContentRules {
  /** Bytes 0x80-0xff. */
  readonly eightBit: boolean;
  /** NUL (0x00). */
  readonly nul: boolean;
}

/**
 * What the MAIL FROM parameters allow in a text body (DATA, or BDAT without BINARYMIME): 8-bit
 * with BODY=8BITMIME (RFC 6152 §3) or SMTPUTF8 (RFC 6531 §3.1: UTF-8 header fields are 8-bit),
 * NUL never (RFC 5321 §4.5.2 text, RFC 2045 §2.8: not even in 8bit data).
 */
export function declaredContent(p: {
  readonly body: "7BIT" | "8BITMIME" | "BINARYMIME";
  readonly smtputf8: boolean;
}): ContentRules {
  return { eightBit: p.body !== "7BIT" || p.smtputf8, nul: p.body === "BINARYMIME" };
}

export interface DataFeed {
  /** Unstuffed message bytes from this chunk (empty once an error is flagged). */
  readonly data: Buffer;
  /** The terminator was seen. */
  readonly end: boolean;
  /** Bytes after the terminator (only when end). */
  readonly rest: Buffer;
}

export interface DataLimits {
  /** Most message bytes accepted (after unstuffing). */
  readonly maxBytes: number;
  /** Longest line accepted, in wire bytes including CRLF. */
  readonly maxLine: number;
  readonly content: ContentRules;
  /** Limits of the header section (header-limit.ts); none when absent. */
  readonly header?: HeaderLimits;
}

/** "data": dot-stuffed up to CRLF.CRLF (RFC 5321); "bdat": raw chunks, ended by close(). */
export type Framing = "data" | "bdat";

const enum S {
  /** At the start of a line (after CRLF, or at the start of the data). */
  LineStart,
  /** A "." at the start of a line has been read (and dropped). */
  Dot,
  /** "." CR at the start of a line: LF now ends the data. */
  DotCr,
  /** Inside a line. */
  Mid,
  /** Inside a line, the last byte seen was CR. */
  MidCr,
}

const EMPTY = Buffer.alloc(0);

export class DataDecoder {
  private state = S.LineStart;
  private lineLen = 0;
  private segs: Buffer[] = [];
  /** Message bytes handed out (or that would have been, past the size limit). */
  bytes = 0;
  longestLine = 0;
  error: DataError | null = null;
  done = false;

  private readonly header: HeaderMeter | null;

  constructor(
    private readonly limits: DataLimits,
    private readonly framing: Framing = "data",
  ) {
    this.header = limits.header ? new HeaderMeter(limits.header) : null;
  }

  /**
   * BDAT LAST: the text is complete. A CR left at its very end is a bare CR (a text body keeps
   * RFC 5322 line structure over BDAT; only BODY=BINARYMIME lifts it, RFC 3030 §3).
   */
  close(): void {
    if (this.state === S.MidCr) this.flag("bareLineEnding");
    this.done = true;
  }

  feed(buf: Buffer): DataFeed {
    if (this.done) return { data: EMPTY, end: true, rest: buf };
    const len = buf.length;
    let pos = 0;
    let segStart = 0;
    // Next CR at or after pos, or len when none is left in this chunk.
    let nextCr = -1;
    let nextLf = -1;
    while (pos < len) {
      switch (this.state) {
        case S.LineStart:
          if (buf[pos] === DOT && this.framing === "data") {
            this.emit(buf, segStart, pos);
            pos++;
            segStart = pos;
            this.lineLen = 1;
            this.state = S.Dot;
          } else {
            this.lineLen = 0;
            this.state = S.Mid;
          }
          break;
        case S.Dot:
          if (buf[pos] === CR) {
            this.emit(buf, segStart, pos);
            segStart = pos;
            pos++;
            this.state = S.DotCr;
          } else {
            // The dot was stuffing (or a lone leading dot, deleted all the same: §4.5.2).
            this.state = S.Mid;
          }
          break;
        case S.DotCr:
          if (buf[pos] === LF) {
            pos++;
            this.done = true;
            this.lineLen = 0;
            return this.finish(buf.subarray(pos));
          }
          this.flag("bareLineEnding");
          this.state = S.Mid;
          break;
        case S.MidCr:
          if (buf[pos] === LF) {
            pos++;
            this.endLine(1);
            this.state = S.LineStart;
          } else {
            this.flag("bareLineEnding");
            this.state = S.Mid;
          }
          break;
        case S.Mid: {
          // Both positions are cached so a chunk full of bare CRs is still scanned once.
          if (nextLf < pos) {
            nextLf = buf.indexOf(LF, pos);
            if (nextLf < 0) nextLf = len;
          }
          if (nextCr < pos) {
            nextCr = buf.indexOf(CR, pos);
            if (nextCr < 0) nextCr = len;
          }
          // A CR before the last byte of this line piece is not followed by LF: bare.
          if (nextCr < nextLf - 1) {
            this.flag("bareLineEnding");
            this.lineLen += nextCr + 1 - pos;
            pos = nextCr + 1;
            break;
          }
          if (nextLf === len) {
            this.lineLen += len - pos;
            this.state = nextCr === len - 1 ? S.MidCr : S.Mid;
            pos = len;
            break;
          }
          const lf = nextLf;
          const crlf = lf > pos && buf[lf - 1] === CR;
          if (!crlf) this.flag("bareLineEnding");
          this.endLine(lf + 1 - pos);
          pos = lf + 1;
          this.state = crlf ? S.LineStart : S.Mid;
          break;
        }
      }
    }
    if (this.lineLen > this.limits.maxLine) this.flag("lineTooLong");
    // Hold back a CR that may be the start of the terminator's CRLF.
    const keep = this.state === S.DotCr ? segStart : len;
    this.emit(buf, segStart, keep);
    return this.finish(EMPTY);
  }

  private endLine(tail: number): void {
    const n = this.lineLen + tail;
    if (n > this.longestLine) this.longestLine = n;
    if (n > this.limits.maxLine) this.flag("lineTooLong");
    this.lineLen = 0;
  }

  private flag(e: DataError): void {
    if (this.error === null) {
      this.error = e;
      this.segs = [];
    }
  }

  private emit(buf: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.bytes += to - from;
    if (this.bytes > this.limits.maxBytes) this.flag("tooBig");
    if (this.error !== null) return;
    const seg = buf.subarray(from, to);
    // Native scans (indexOf, simdutf's isAscii): no per-byte loop in JS.
    if (!this.limits.content.nul && seg.includes(0)) this.flag("nul");
    else if (!this.limits.content.eightBit && !isAscii(seg)) this.flag("eightBit");
    else {
      const e = this.header !== null && !this.header.done ? this.header.feed(seg) : null;
      if (e !== null) this.flag(e);
      else this.segs.push(seg);
    }
  }

  private finish(rest: Buffer): DataFeed {
    const segs = this.segs;
    this.segs = [];
    const data = segs.length === 0 ? EMPTY : segs.length === 1 ? (segs[0] ?? EMPTY) : Buffer.concat(segs);
    return { data, end: this.done, rest };
  }
}
