// What the relay reads of a stored message's header section, never its body: the section is
// read from the spool up to the empty line, at most MAX_BYTES. Whether it is plain ASCII, for a
// message whose sender asked for SMTPUTF8 going to a server without it (RFC 6531 §3.4;
// smtp/client needsSmtputf8): a header section not ended within the bound counts as not ASCII
// (the message is then refused rather than sent with headers nobody checked). Whether it says
// `TLS-Required: No` (RFC 8689 §5), which asks to skip the recipient domain's TLS policy: a
// section not ended within the bound does not say it.
import type { Readable } from "node:stream";
import { findHeaderEnd, headerFields } from "../../proto/header-fields.js";

const MAX_BYTES = 256 * 1024;

/** The header section (without the empty line), or null when it does not end within MAX_BYTES. */
async function headerSection(stream: Readable): Promise<Buffer | null> {
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      // Search the new bytes and the 3 before them (an empty line split across chunks).
      const from = Math.max(0, head.length - 3);
      head = Buffer.concat([head, chunk]);
      const blank = findHeaderEnd(head, from);
      if (blank !== null) return head.subarray(0, blank.start);
      if (head.length >= MAX_BYTES) return null;
    }
    // A message that is all header.
    return head;
  } finally {
    stream.destroy();
  }
}

export async function headerSectionIsAscii(stream: Readable): Promise<boolean> {
  const head = await headerSection(stream);
  return head !== null && head.every((b) => b < 0x80);
}

export async function saysTlsNotRequired(stream: Readable): Promise<boolean> {
  const head = await headerSection(stream);
  if (head === null) return false;
  return headerFields(Buffer.concat([head, Buffer.from("\r\n\r\n")])).some(
    (f) => f.name.toLowerCase() === "tls-required" && f.value.trim().toLowerCase() === "no",
  );
}
