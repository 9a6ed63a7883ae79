// The body as Sieve's body test sees it (RFC 5173): the MIME leaf parts with their content types
// and text. The structure comes from mailsplit (the MIME splitter of mailparser: nested
// multiparts, embedded message/rfc822 parts, LF or CRLF line ends), the transfer encoding is
// undone by libqp or base64, and text/* parts are converted from their charset to Unicode by
// libmime (iconv-lite and encoding-japanese: ISO-2022-JP, Shift_JIS, EUC-JP, GB18030, Big5,
// KOI8-R, windows-125x, ISO-8859-x and the rest). A part without a charset, or with one that
// is not known, is read as UTF-8. Parts other than text/* keep their decoded bytes read as
// UTF-8, which is what `:content "application"` compares.
//
// The message is untrusted and can be large: the walk is linear, is fed to the splitter in
// chunks with a turn of the event loop between them, and is bounded in parts, in encoded bytes
// kept per part and in decoded text per message. What lies past a bound is not looked at. A
// structure the splitter gives up on (a header block over its limit, too many parts) ends the
// walk with the parts read so far; nothing here throws for bad input.
import type { Transform } from "node:stream";
import { Splitter, type MimeNode, type SplitterChunk } from "@zone-eu/mailsplit";
import libqp from "libqp";
import charset from "libmime/lib/charset.js";

export interface BodyPart {
  /** lower-case type/subtype, "text/plain" when absent (RFC 2045 §5.2) */
  readonly type: string;
  readonly text: string;
}

export interface BodyLimits {
  /** Leaf parts read, at most. */
  readonly maxParts: number;
  /** Decoded bytes kept per part; the rest of a longer part is not read. */
  readonly maxPartBytes: number;
  /** Decoded bytes kept over the whole message; the walk stops there. */
  readonly maxTotalBytes: number;
  /** Bytes handed to the splitter at a time (tests vary it to split the input everywhere). */
  readonly chunk: number;
}

export const BODY_LIMITS: BodyLimits = {
  maxParts: 100,
  maxPartBytes: 1 << 20,
  maxTotalBytes: 4 << 20,
  chunk: 64 << 10,
};

// base64 needs 4/3 of the decoded size, quoted-printable at most 3 times it
const ENCODED_FACTOR = 3;
const MAX_HEAD = 256 << 10;

interface Collecting {
  readonly node: MimeNode;
  readonly type: string;
  readonly chunks: Buffer[];
  kept: number;
}

/** The leaf parts of a whole message (header included) in order. */
export async function bodyParts(raw: Buffer, limits: BodyLimits = BODY_LIMITS): Promise<BodyPart[]> {
  const out: BodyPart[] = [];
  let total = 0;
  let current: Collecting | null = null;
  let done = false;

  const finish = (): void => {
    const c = current;
    current = null;
    if (c === null || done) return;
    const text = decodePart(c, Math.min(limits.maxPartBytes, limits.maxTotalBytes - total));
    total += text.bytes;
    out.push({ type: c.type, text: text.text });
    if (out.length >= limits.maxParts || total >= limits.maxTotalBytes) done = true;
  };

  const splitter = new Splitter({
    defaultInlineEmbedded: true,
    maxHeadSize: MAX_HEAD,
    maxChildNodes: limits.maxParts * 4,
  });
  splitter.on("data", (d: SplitterChunk) => {
    if (done) return;
    if (d.type === "node") {
      finish();
      // containers (multipart, embedded message) have no content of their own here
      if (d.multipart || d.messageNode === true) return;
      const type = typeof d.contentType === "string" && d.contentType !== "" ? d.contentType : "text/plain";
      current = { node: d, type: type.toLowerCase(), chunks: [], kept: 0 };
    } else if (d.type === "body" && current !== null) {
      const room = limits.maxPartBytes * ENCODED_FACTOR - current.kept;
      if (room > 0) {
        const piece = d.value.length > room ? d.value.subarray(0, room) : d.value;
        current.chunks.push(piece);
        current.kept += piece.length;
      }
    }
  });
  // the typings declare only the "data" event: the stream's own events through its base type
  const stream = splitter as unknown as Transform;
  const ended = new Promise<void>((resolve) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    // a structure the splitter refuses ends the walk: the parts so far stand
    stream.on("error", () => resolve());
  });

  for (let at = 0; at < raw.length && !done && !splitter.destroyed; at += limits.chunk) {
    const ok = splitter.write(raw.subarray(at, at + limits.chunk));
    // a turn of the event loop between chunks: a large body never holds it for long
    const turn = new Promise<void>((resolve) => (ok ? setImmediate(resolve) : stream.once("drain", resolve)));
    await Promise.race([turn, ended]);
  }
  if (!done && !splitter.destroyed) splitter.end();
  else splitter.destroy();
  await ended;
  finish();
  return out;
}

function decodePart(c: Collecting, max: number): { text: string; bytes: number } {
  if (max <= 0) return { text: "", bytes: 0 };
  const encoded = Buffer.concat(c.chunks);
  const cte = c.node.encoding;
  // Node's base64 decoder skips line breaks and anything else outside the alphabet (RFC 2045
  // §6.8); 7bit, 8bit, binary and unknown encodings are taken as they are
  let bytes =
    cte === "base64"
      ? Buffer.from(encoded.toString("latin1"), "base64")
      : cte === "quoted-printable"
        ? libqp.decode(encoded)
        : encoded;
  if (bytes.length > max) bytes = bytes.subarray(0, max);
  const cs = c.type.startsWith("text/") && typeof c.node.charset === "string" ? c.node.charset : "utf-8";
  return { text: charset.decode(bytes, cs), bytes: bytes.length };
}
