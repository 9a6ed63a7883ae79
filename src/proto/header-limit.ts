// Limits on a message's header section (RFC 5322 §2.2: the fields before the first empty line):
// its total size and its number of fields. The line limit alone does not bound it, since a
// field may be folded over any number of lines (one folded over 200,000 lines was accepted), and
// whatever the header holds is parsed, decoded and matched by rules. Streaming: feed the message
// bytes (unstuffed, as stored) in chunks split anywhere; LF ends a line with or without CR, so
// BDAT and the sources' native line ends are measured the same. Scanning uses indexOf for LF.
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;

export type HeaderLimitError = "headerTooBig" | "tooManyFields";

export interface HeaderLimits {
  /** Most bytes in the header section, line ends and the empty line included. */
  readonly maxHeaderBytes: number;
  /** Most header fields (lines that do not start with white space). */
  readonly maxHeaderFields: number;
}

export class HeaderMeter {
  bytes = 0;
  fields = 0;
  error: HeaderLimitError | null = null;
  /** The empty line ending the header has been seen. */
  done = false;
  /** Bytes of the current line seen so far (before its LF). */
  private lineLen = 0;
  private lastCr = false;

  constructor(private readonly limits: HeaderLimits) {}

  /** Measures the next bytes of the message; the first limit broken, if any. */
  feed(buf: Buffer): HeaderLimitError | null {
    let pos = 0;
    while (!this.done && this.error === null && pos < buf.length) {
      if (this.lineLen === 0) {
        const c = buf[pos];
        if (c !== SP && c !== HT && c !== CR && c !== LF && ++this.fields > this.limits.maxHeaderFields)
          this.error = "tooManyFields";
      }
      const lf = buf.indexOf(LF, pos);
      const end = lf < 0 ? buf.length : lf + 1;
      this.bytes += end - pos;
      if (lf < 0) {
        this.lineLen += end - pos;
        this.lastCr = buf[end - 1] === CR;
      } else {
        const cr = lf > pos ? buf[lf - 1] === CR : this.lastCr;
        if (this.lineLen + (lf - pos) - (cr ? 1 : 0) === 0) this.done = true;
        this.lineLen = 0;
        this.lastCr = false;
      }
      pos = end;
      if (this.error === null && this.bytes > this.limits.maxHeaderBytes) this.error = "headerTooBig";
    }
    return this.error;
  }
}

/** The first header limit a whole message breaks, or null. */
export function checkHeader(message: Buffer, limits: HeaderLimits): HeaderLimitError | null {
  return new HeaderMeter(limits).feed(message);
}
