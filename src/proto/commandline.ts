// Splits the untrusted command stream into lines, bounded by the command line limit
// (RFC 5321 §4.5.3.1.4; the limit counts the CRLF). Bytes not yet returned as lines can be taken
// back whole, for the DATA/BDAT phases and for STARTTLS (where they are thrown away).
//
// A bare LF also ends a command line (a CR before it is dropped). RFC 5321 §2.3.8 asks for CRLF,
// but Postfix and most servers accept LF-only commands from sloppy scripts; that is safe here
// because a command line is never relayed, and message data (where a sloppy line ending would
// enable smuggling) goes through DataDecoder, which accepts CRLF only.
const LF = 0x0a;
const CR = 0x0d;

export type CommandLine = { readonly kind: "line"; readonly text: Buffer } | { readonly kind: "tooLong" };

const EMPTY = Buffer.alloc(0);

export class CommandLines {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Inside an over-long line: drop bytes up to its LF, then report it once. */
  private discarding = false;

  constructor(private readonly maxLine: number) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
      this.pos = 0;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
      this.pos = 0;
    }
  }

  /** The next line (without its line ending), or null when more input is needed. */
  next(): CommandLine | null {
    const lf = this.buf.indexOf(LF, this.pos);
    if (lf < 0) {
      const pending = this.buf.length - this.pos;
      if (this.discarding || pending >= this.maxLine) {
        // Nothing of this line will be used: drop it now so a long line costs no memory.
        this.discarding = true;
        this.buf = EMPTY;
        this.pos = 0;
      }
      return null;
    }
    const start = this.pos;
    this.pos = lf + 1;
    if (this.discarding || lf + 1 - start > this.maxLine) {
      this.discarding = false;
      return { kind: "tooLong" };
    }
    const end = lf > start && this.buf[lf - 1] === CR ? lf - 1 : lf;
    return { kind: "line", text: this.buf.subarray(start, end) };
  }

  /** Bytes received and not yet returned as lines; the reader is left empty. */
  take(): Buffer {
    const rest = this.buf.subarray(this.pos);
    this.buf = EMPTY;
    this.pos = 0;
    this.discarding = false;
    return rest;
  }

  get buffered(): number {
    return this.buf.length - this.pos;
  }
}
