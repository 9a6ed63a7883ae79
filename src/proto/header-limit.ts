// Limits on a message's header section (RFC 5322 §2.2): its total size and its number of fields.
// The line limit alone does not bound it, since a field may be folded over any number of lines
// (one folded over 200,000 lines was accepted), and whatever the header holds is parsed, decoded
// and matched by rules. Streaming: feed the message bytes (unstuffed, as stored) in chunks split
// anywhere; LF ends a line with or without CR, so BDAT and the sources' native line ends are
// measured the same. The header ends at the empty line, or, as Postfix's cleanup has it, at the
// first line that is neither a field ("name:", RFC 5322 §3.6.8, white space before the colon
// allowed as in §4.5) nor a continuation: such a line and what follows are body. A header-less
// text is then no header at all, not a "header" of thousands of fields. fieldColon() is the
// same test on a whole line, for the readers (src/rules/message.ts) that must stop where this
// measure stops.
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

export type HeaderLimitError = "headerTooBig" | "tooManyFields";

export interface HeaderLimits {
  /** Most bytes in the header section, line ends and the empty line included. */
  readonly maxHeaderBytes: number;
  /** Most header fields. */
  readonly maxHeaderFields: number;
}

const isNameByte = (b: number): boolean => b >= 0x21 && b <= 0x7e && b !== COLON;
const isWsp = (b: number): boolean => b === SP || b === HT;

/**
 * Where the colon of a field line is (the line's bytes are buf[start, stop), without its line
 * end), or -1 when the line is not a field: a name of printable characters, optional white
 * space, then ":".
 */
export function fieldColon(buf: Buffer, start: number, stop: number): number {
  let i = start;
  while (i < stop && isNameByte(buf[i]!)) i++;
  if (i === start) return -1;
  while (i < stop && isWsp(buf[i]!)) i++;
  return i < stop && buf[i] === COLON ? i : -1;
}

const enum L {
  /** At the start of a line. */
  Start,
  /** A CR at the start of a line: LF makes it the empty line. */
  StartCr,
  /** In a field name. */
  Name,
  /** White space after a field name. */
  NameWsp,
  /** In a field line or continuation after its name: skip to LF. */
  Rest,
}

export class HeaderMeter {
  bytes = 0;
  fields = 0;
  error: HeaderLimitError | null = null;
  /** The header has ended (empty line, or a line that is not a field). */
  done = false;
  private state = L.Start;
  /** Bytes counted before the current line: a line that turns out to be body is not header. */
  private lineStart = 0;

  constructor(private readonly limits: HeaderLimits) {}

  /** Measures the next bytes of the message; the first limit broken, if any. */
  feed(buf: Buffer): HeaderLimitError | null {
    let pos = 0;
    const len = buf.length;
    const body = (): void => {
      this.done = true;
      this.bytes = this.lineStart;
    };
    while (!this.done && this.error === null && pos < len) {
      const b = buf[pos]!;
      switch (this.state) {
        case L.Start:
          this.lineStart = this.bytes;
          if (b === LF) {
            this.done = true;
            this.bytes++;
            return this.check();
          }
          if (b === CR) this.state = L.StartCr;
          // a continuation of a field; before any field there is nothing to continue
          else if (isWsp(b) && this.fields > 0) this.state = L.Rest;
          else if (isNameByte(b)) this.state = L.Name;
          else return (body(), this.error);
          this.bytes++;
          pos++;
          break;
        case L.StartCr:
          if (b !== LF) return (body(), this.error);
          this.done = true;
          this.bytes++;
          return this.check();
        case L.Name:
        case L.NameWsp:
          if (b === COLON) {
            if (++this.fields > this.limits.maxHeaderFields) this.error = "tooManyFields";
            this.state = L.Rest;
          } else if (isWsp(b)) this.state = L.NameWsp;
          else if (!(this.state === L.Name && isNameByte(b))) return (body(), this.error);
          this.bytes++;
          pos++;
          break;
        case L.Rest: {
          const lf = buf.indexOf(LF, pos);
          const end = lf < 0 ? len : lf + 1;
          this.bytes += end - pos;
          pos = end;
          if (lf >= 0) this.state = L.Start;
          break;
        }
      }
      this.check();
    }
    return this.error;
  }

  private check(): HeaderLimitError | null {
    if (this.error === null && this.bytes > this.limits.maxHeaderBytes) this.error = "headerTooBig";
    return this.error;
  }
}

/** The first header limit a whole message breaks, or null. */
export function checkHeader(message: Buffer, limits: HeaderLimits): HeaderLimitError | null {
  return new HeaderMeter(limits).feed(message);
}
