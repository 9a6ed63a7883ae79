// One pass over a message about to be signed: its header section, and (when the caller wants
// it, having seen the header) the relaxed SHA-256 body hash computed chunk by chunk as the body
// streams past, so a message is read once to sign it and once to send it, never held whole
// unless it is small (then the chunks read are kept and sent as they are: no second read).
// Line ends are hashed as mailauth's signer hashed them (a bare LF counts as CRLF), so a
// signature stays what it was before this pass was ours.
import type { Readable } from "node:stream";
import { findHeaderEnd } from "../../proto/header-fields.js";
import { relaxedBodyHasher, type MailauthBodyHasher } from "./mailauth-parts.js";

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from("\r\n");

/** A header section longer than this without its blank line is not signed (inbound limits are far lower). */
export const MAX_HEADER_BYTES = 1024 * 1024;

export interface MessagePass {
  /** The header section with the blank line that ends it (the whole message when it has none). */
  readonly header: Buffer;
  /** Relaxed/SHA-256 body hash (base64), when asked for. */
  readonly bodyHash: string | null;
  /** Every chunk read, when the message was read to its end and is at most keepBytes long. */
  readonly chunks: readonly Buffer[] | null;
}

/**
 * Reads `stream` once. `wantsBody(header)` is asked when the header section is complete: false
 * stops the read there (nothing to sign). Null when the header section never ends within
 * MAX_HEADER_BYTES. The stream is destroyed on the way out.
 */
export async function readForSigning(
  stream: Readable,
  wantsBody: (header: Buffer) => boolean | Promise<boolean>,
  keepBytes: number,
): Promise<MessagePass | null> {
  let kept: Buffer[] | null = [];
  let keptBytes = 0;
  // Until the blank line: the bytes so far, as one buffer.
  let head: Buffer = Buffer.alloc(0);
  const body = new BodyHash();
  try {
    for await (const c of stream as AsyncIterable<Buffer>) {
      if (kept !== null) {
        keptBytes += c.length;
        if (keptBytes <= keepBytes) kept.push(c);
        else kept = null;
      }
      if (body.header !== null) {
        body.update(c);
        continue;
      }
      // Search the new bytes and the 3 before them (a blank line split across chunks).
      const from = Math.max(0, head.length - 3);
      head = head.length === 0 ? c : Buffer.concat([head, c]);
      const end = findHeaderEnd(head, from);
      if (end !== null) {
        const header = head.subarray(0, end.end);
        if (!(await wantsBody(header))) return { header, bodyHash: null, chunks: null };
        body.start(header, head.subarray(end.end));
      } else if (head.length > MAX_HEADER_BYTES) return null;
    }
    // No blank line: the whole message is its header section, and the body is empty.
    if (body.header === null) {
      if (!(await wantsBody(head))) return { header: head, bodyHash: null, chunks: null };
      body.start(head, Buffer.alloc(0));
    }
    return { header: body.header!, bodyHash: body.digest(), chunks: kept };
  } finally {
    stream.destroy();
  }
}

/** The body hash fed chunk by chunk, with bare LFs made CRLF across chunk boundaries. */
class BodyHash {
  header: Buffer | null = null;
  private hasher: MailauthBodyHasher | null = null;
  // The byte before the next chunk: a CR there makes a leading LF part of a CRLF.
  private last = -1;

  start(header: Buffer, rest: Buffer): void {
    this.header = header;
    this.hasher = relaxedBodyHasher();
    this.last = header.length > 0 ? header[header.length - 1]! : -1;
    this.update(rest);
  }

  update(b: Buffer): void {
    if (b.length === 0) return;
    this.hasher!.update(fixBareLf(b, this.last));
    this.last = b[b.length - 1]!;
  }

  digest(): string {
    return this.hasher!.digest("base64");
  }
}

/** The chunk with every LF not preceded by CR made CRLF (`before`: the byte before the chunk). */
export function fixBareLf(b: Buffer, before: number): Buffer {
  let lf = b.indexOf(LF);
  if (lf < 0) return b;
  const parts: Buffer[] = [];
  let pos = 0;
  for (; lf >= 0; lf = b.indexOf(LF, lf + 1)) {
    const prev = lf > 0 ? b[lf - 1] : before;
    if (prev === CR) continue;
    parts.push(b.subarray(pos, lf), CRLF);
    pos = lf + 1;
  }
  if (parts.length === 0) return b;
  parts.push(b.subarray(pos));
  return Buffer.concat(parts);
}
