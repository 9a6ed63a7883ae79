// Incremental parser for server replies (RFC 5321 §4.2): bytes in any chunking, whole Reply
// values out. No I/O. Everything here is untrusted remote input: line length and lines per reply
// are bounded, and a line that is not "ddd[ -]text" ends the conversation (protocol error).
// Enhanced status codes (RFC 3463) are lifted out of the text when the first line carries one
// whose class matches the reply code, whether or not ENHANCEDSTATUSCODES was announced.
import type { Reply } from "../../proto/reply.js";
import { SmtpClientError } from "./errors.js";

/** Far above RFC 5321's 512 octets; real servers exceed that limit with long texts. */
export const MAX_REPLY_LINE = 4096;
/** EHLO replies run to a dozen or two lines; anything near this is hostile. */
export const MAX_REPLY_LINES = 128;

const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})(?: +|$)/;
const LF = 0x0a;

export class ReplyParser {
  private partial: Buffer | null = null;
  private lines: string[] = [];
  private code = 0;

  /** Parse a chunk; returns the replies it completed. Throws SmtpClientError("protocol"). */
  push(chunk: Buffer): Reply[] {
    const out: Reply[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl < 0) break;
      let line = chunk.subarray(start, nl);
      if (this.partial !== null) {
        line = Buffer.concat([this.partial, line]);
        this.partial = null;
      }
      start = nl + 1;
      if (line.length > MAX_REPLY_LINE) throw new SmtpClientError("protocol", "reply line too long");
      const r = this.line(line.toString("utf8", 0, line.at(-1) === 0x0d ? line.length - 1 : line.length));
      if (r !== null) out.push(r);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      // Copy: the chunk belongs to the socket and the tail may sit here a while.
      this.partial = this.partial === null ? Buffer.from(rest) : Buffer.concat([this.partial, rest]);
      if (this.partial.length > MAX_REPLY_LINE) throw new SmtpClientError("protocol", "reply line too long");
    }
    return out;
  }

  /** Bytes received after the last complete reply (must be none when STARTTLS begins). */
  hasPending(): boolean {
    return this.partial !== null || this.lines.length > 0;
  }

  reset(): void {
    this.partial = null;
    this.lines = [];
    this.code = 0;
  }

  private line(text: string): Reply | null {
    const m = /^([2-5]\d\d)([ -]|$)/.exec(text);
    if (m === null) throw new SmtpClientError("protocol", "malformed reply line");
    const code = Number(m[1]);
    if (this.lines.length > 0 && code !== this.code)
      throw new SmtpClientError("protocol", "reply code changed mid-reply");
    if (this.lines.length >= MAX_REPLY_LINES)
      throw new SmtpClientError("protocol", "reply has too many lines");
    this.code = code;
    this.lines.push(text.slice(4));
    if (m[2] === "-") return null;
    const lines = this.lines;
    this.lines = [];
    return build(code, lines);
  }
}

function build(code: number, lines: string[]): Reply {
  const first = ENHANCED.exec(lines[0] ?? "");
  const enhanced = first?.[1] !== undefined && first[1][0] === String(code)[0] ? first[1] : null;
  if (enhanced === null) return { code, enhanced: null, text: lines.join("\n") };
  const text = lines.map((l) => {
    const m = ENHANCED.exec(l);
    return m?.[1] === enhanced ? l.slice(m[0].length) : l;
  });
  return { code, enhanced, text: text.join("\n") };
}
