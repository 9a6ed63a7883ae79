// DATA transparency (RFC 5321 §4.5.2) as a streaming transform, copying only what must change:
// each input chunk becomes a list of slices of itself with a "." inserted before every line that
// starts with ".", and the terminator adds CRLF first when the message did not end with one. No I/O.
// Invariant: every line ending written is CRLF. Receipt refuses bare CR/LF in text, but whatever
// the stored bytes hold, stray CR or LF become CRLF and NUL is dropped first (stray-cr-lf.ts), so
// no byte sequence but the final CRLF.CRLF can be read as an end of data by any next hop, however
// lenient (SMTP smuggling). A line start is then exactly "after CRLF"; chunk boundaries may fall
// anywhere, even inside "\r\n." (a CR ending a chunk waits for the next one).
import { CrlfText } from "../../proto/stray-cr-lf.js";

const DOT = Buffer.from(".");
const CRLF_DOT = Buffer.from("\r\n.");
const END_AFTER_CRLF = Buffer.from(".\r\n");
const END_MID_LINE = Buffer.from("\r\n.\r\n");

export class DotStuffer {
  /** How much of "\r\n" the bytes so far end with: 2 at the start (a line start). */
  private tail = 2;
  private readonly text = new CrlfText();

  /** The chunk as slices to write in order (the chunk must not be reused by the caller). */
  push(chunk: Buffer): Buffer[] {
    return this.stuff(this.text.push(chunk));
  }

  /** The end-of-data marker, preceded by CRLF when the message lacked a final line ending. */
  end(): Buffer {
    // A CR held back at the very end is a bare CR: it becomes the CRLF before the marker.
    const left = this.text.end();
    if (left.length > 0) return END_MID_LINE;
    return this.tail === 2 ? END_AFTER_CRLF : END_MID_LINE;
  }

  private stuff(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    const out: Buffer[] = [];
    let from = 0;
    // A "." right after a CRLF split across the previous chunk(s).
    let dotAt = -1;
    if (this.tail === 2 && chunk[0] === 0x2e) dotAt = 0;
    else if (this.tail === 1 && chunk[0] === 0x0a && chunk[1] === 0x2e) dotAt = 1;
    if (dotAt >= 0) {
      out.push(chunk.subarray(0, dotAt), DOT);
      from = dotAt;
    }
    let i = chunk.indexOf(CRLF_DOT, from);
    while (i >= 0) {
      const dot = i + 2;
      out.push(chunk.subarray(from, dot), DOT);
      from = dot;
      i = chunk.indexOf(CRLF_DOT, dot);
    }
    out.push(from === 0 ? chunk : chunk.subarray(from));
    const n = chunk.length;
    if (chunk[n - 1] === 0x0d) this.tail = 1;
    else if (chunk[n - 1] === 0x0a && (n >= 2 ? chunk[n - 2] === 0x0d : this.tail === 1)) this.tail = 2;
    else this.tail = 0;
    return out.filter((b) => b.length > 0);
  }
}
