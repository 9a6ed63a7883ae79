// The From: addresses of a message as it streams past: the header section's bytes are kept (up to
// a bound) while the engine writes the message to its sink, so the sender policy can read From:
// at end of data without a second pass over the spool. Input is the client's message, untrusted:
// the scan is linear in the bytes seen and stops at the blank line ending the header section
// (RFC 5322 §2.1) or at the bound, whichever comes first. No I/O.
import { headerFields, parseAddressList } from "../proto/header-fields.js";

/**
 * Most header bytes kept for the From: check (Postfix's header_size_limit is 100 KB). A header
 * section longer than this cannot be checked, and the policy refuses it rather than guess.
 */
export const MAX_CHECKED_HEADER = 256 * 1024;

const LF = 0x0a;
const CR = 0x0d;

export type FromField =
  /** No From: field at all. */
  | { readonly kind: "none" }
  /** Every address of every From: field; empty when a From: field holds none that can be read. */
  | { readonly kind: "addresses"; readonly addresses: readonly string[] }
  /** The header section did not end within MAX_CHECKED_HEADER bytes. */
  | { readonly kind: "too-large" };

export class HeaderCapture {
  private readonly parts: Buffer[] = [];
  private size = 0;
  /** Offset (in the kept bytes) where the current line starts. */
  private lineStart = 0;
  private end: number | null = null;
  /** The last byte kept so far (a CR just before a chunk boundary). */
  private last: number | undefined = undefined;

  constructor(private readonly limit = MAX_CHECKED_HEADER) {}

  /** Sees the next chunk of the message (in order). */
  take(chunk: Buffer): void {
    if (this.end !== null || this.size >= this.limit) return;
    const piece = chunk.subarray(0, this.limit - this.size);
    const base = this.size;
    this.parts.push(piece);
    this.size += piece.length;
    const before = this.last;
    if (piece.length > 0) this.last = piece[piece.length - 1];
    for (let i = piece.indexOf(LF); i !== -1; i = piece.indexOf(LF, i + 1)) {
      const at = base + i;
      const len = at - this.lineStart;
      const prev = i > 0 ? piece[i - 1] : before;
      // An empty line (CRLF, or a bare LF as BDAT may carry) ends the header section.
      if (len === 0 || (len === 1 && prev === CR)) {
        this.end = at + 1;
        return;
      }
      this.lineStart = at + 1;
    }
  }

  /** The From: field as far as the bytes seen tell. */
  from(): FromField {
    if (this.end === null && this.size >= this.limit) return { kind: "too-large" };
    const head = Buffer.concat(this.parts).subarray(0, this.end ?? this.size);
    const fields = headerFields(head).filter((f) => f.name.toLowerCase() === "from");
    if (fields.length === 0) return { kind: "none" };
    return { kind: "addresses", addresses: fields.flatMap((f) => parseAddressList(f.value)) };
  }
}
