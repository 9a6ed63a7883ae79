// Whether a stored message's header section is plain ASCII, for a message whose sender asked
// for SMTPUTF8 going to a server without it (RFC 6531 §3.4; smtp/client needsSmtputf8): the
// header section is read from the spool up to the empty line, at most MAX_BYTES, never the body.
// A header section not ended within the bound counts as not ASCII (the message is then refused
// rather than sent with headers nobody checked).
import type { Readable } from "node:stream";

const MAX_BYTES = 256 * 1024;

export async function headerSectionIsAscii(stream: Readable): Promise<boolean> {
  let seen = 0;
  // The last three bytes of the previous chunk, so an empty line split across chunks is found.
  let tail = Buffer.alloc(0);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const b = Buffer.concat([tail, chunk]);
      const crlf = b.indexOf("\r\n\r\n");
      const lf = b.indexOf("\n\n");
      const ends = [crlf, lf].filter((i) => i >= 0);
      const end = ends.length > 0 ? Math.min(...ends) : b.length;
      for (let i = 0; i < end; i++) if (b[i]! >= 0x80) return false;
      if (ends.length > 0) return true;
      seen += chunk.length;
      if (seen >= MAX_BYTES) return false;
      tail = b.subarray(Math.max(0, b.length - 3));
    }
    // A message that is all header: ASCII if nothing above said otherwise.
    return true;
  } finally {
    stream.destroy();
  }
}
