// The header section of a stored message, for the operator's message details: read from the
// start of the spool's message stream up to the blank line, at most `max` bytes (a message
// without a blank line early on is shown cut), never the body.
import type { Readable } from "node:stream";

export async function readHeaderSection(stream: Readable, max = 64 * 1024): Promise<string> {
  let text = "";
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      text += chunk.toString("latin1");
      const end = text.search(/\r?\n\r?\n/);
      if (end >= 0) return text.slice(0, end);
      if (text.length >= max) return text.slice(0, max);
    }
    return text;
  } finally {
    stream.destroy();
  }
}
