// The header section of a stored message, for the operator's message details: read from the
// start of the spool's message stream up to the blank line, at most `max` bytes (a message
// without a blank line early on is shown cut), never the body.
import type { Readable } from "node:stream";
import { findHeaderEnd } from "../proto/header-fields.js";

export async function readHeaderSection(stream: Readable, max = 64 * 1024): Promise<string> {
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      // Search the new bytes and the 3 before them (an empty line split across chunks).
      const from = Math.max(0, head.length - 3);
      head = Buffer.concat([head, chunk]);
      const blank = findHeaderEnd(head, from);
      if (blank !== null) return head.toString("latin1", 0, blank.start);
      if (head.length >= max) return head.toString("latin1", 0, max);
    }
    return head.toString("latin1");
  } finally {
    stream.destroy();
  }
}
