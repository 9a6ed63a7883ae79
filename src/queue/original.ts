// Reads back what a DSN returns of the original message: the header section (bounded), or the
// whole message when it is small enough. Stops reading as soon as it has what it needs.
import type { Readable } from "node:stream";

/** A header section longer than this is cut (the DSN says "headers", not "all of it"). */
export const MAX_HEADER_BYTES = 256 * 1024;

export interface Original {
  readonly headers: Buffer;
  /** The whole message, when asked for and not larger than the limit. */
  readonly message: Buffer | null;
}

/** Offset just past the empty line ending the header section, or -1. */
function headerEnd(b: Buffer): number {
  const crlf = b.indexOf("\r\n\r\n");
  const lf = b.indexOf("\n\n");
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4;
  return lf >= 0 ? lf + 2 : -1;
}

/**
 * `fullUpTo`: return the whole message when it is at most this many bytes (0 = headers only).
 * The stream is destroyed once enough has been read.
 */
export async function readOriginal(body: Readable, size: number, fullUpTo: number): Promise<Original> {
  const wantFull = fullUpTo > 0 && size <= fullUpTo;
  const chunks: Buffer[] = [];
  let have = 0;
  // The last bytes seen, so an empty line split across chunks is still found.
  let tail = Buffer.alloc(0);
  try {
    for await (const c of body) {
      const chunk = c as Buffer;
      chunks.push(chunk);
      have += chunk.length;
      if (wantFull) continue;
      const probe = Buffer.concat([tail, chunk]);
      if (have >= MAX_HEADER_BYTES || headerEnd(probe) >= 0) break;
      tail = probe.subarray(Math.max(0, probe.length - 3));
    }
  } finally {
    body.destroy();
  }
  const all = Buffer.concat(chunks);
  const end = headerEnd(all);
  const headers = all.subarray(0, end >= 0 ? end : Math.min(all.length, MAX_HEADER_BYTES));
  return { headers, message: wantFull ? all : null };
}
