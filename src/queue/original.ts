// Reads back what a DSN returns of the original message: the header section (bounded), or the
// whole message when it is small enough. Stops reading as soon as it has what it needs.
import type { Readable } from "node:stream";
import { findHeaderEnd } from "../proto/header-fields.js";

/** A header section longer than this is cut (the DSN says "headers", not "all of it"). */
export const MAX_HEADER_BYTES = 256 * 1024;

export interface Original {
  readonly headers: Buffer;
  /** The whole message, when asked for and not larger than the limit. */
  readonly message: Buffer | null;
}

/**
 * `fullUpTo`: return the whole message when it is at most this many bytes (0 = headers only).
 * The stream is destroyed once enough has been read.
 */
export async function readOriginal(body: Readable, size: number, fullUpTo: number): Promise<Original> {
  const wantFull = fullUpTo > 0 && size <= fullUpTo;
  const chunks: Buffer[] = [];
  let have = 0;
  // What was read so far, for the header search (only when the headers are all that is wanted).
  let head = Buffer.alloc(0);
  try {
    for await (const c of body) {
      const chunk = c as Buffer;
      chunks.push(chunk);
      have += chunk.length;
      if (wantFull) continue;
      // Search the new bytes and the 3 before them (an empty line split across chunks).
      const from = Math.max(0, head.length - 3);
      head = Buffer.concat([head, chunk]);
      if (have >= MAX_HEADER_BYTES || findHeaderEnd(head, from) !== null) break;
    }
  } finally {
    body.destroy();
  }
  const all = Buffer.concat(chunks);
  const end = findHeaderEnd(all)?.end ?? Math.min(all.length, MAX_HEADER_BYTES);
  const headers = all.subarray(0, end);
  return { headers, message: wantFull ? all : null };
}
