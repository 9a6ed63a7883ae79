// Whether a stored message's header section is plain ASCII, for a message whose sender asked
// for SMTPUTF8 going to a server without it (RFC 6531 §3.4; smtp/client needsSmtputf8): the
// header section is read from the spool up to the empty line, at most MAX_BYTES, never the body.
// A header section not ended within the bound counts as not ASCII (the message is then refused
// rather than sent with headers nobody checked).
import type { Readable } from "node:stream";
import { findHeaderEnd } from "../../proto/header-fields.js";

const MAX_BYTES = 256 * 1024;

export async function headerSectionIsAscii(stream: Readable): Promise<boolean> {
  let head = Buffer.alloc(0);
  let checked = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      // Search the new bytes and the 3 before them (an empty line split across chunks).
      const from = Math.max(0, head.length - 3);
      head = Buffer.concat([head, chunk]);
      const blank = findHeaderEnd(head, from);
      const end = blank?.start ?? head.length;
      for (let i = checked; i < end; i++) if (head[i]! >= 0x80) return false;
      if (blank !== null) return true;
      if (head.length >= MAX_BYTES) return false;
      checked = end;
    }
    // A message that is all header: ASCII if nothing above said otherwise.
    return true;
  } finally {
    stream.destroy();
  }
}
