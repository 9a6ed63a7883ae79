// The body as Sieve's body test sees it (RFC 5173): the raw body, or the MIME parts with their
// content types and decoded text (base64, quoted-printable). Multipart nesting and part counts
// are bounded; a malformed structure is read as one text part.
import { fieldValues, parseHeader } from "./message.js";

export interface BodyPart {
  /** lower-case type/subtype, "text/plain" when absent (RFC 2045 §5.2) */
  readonly type: string;
  readonly text: string;
}

const MAX_DEPTH = 5;
const MAX_PARTS = 100;

export function bodyParts(raw: Buffer, bodyOffset: number): BodyPart[] {
  const { headers } = parseHeader(raw);
  const out: BodyPart[] = [];
  walk(headers, raw.subarray(bodyOffset), 0, out);
  return out;
}

function walk(
  headers: ReturnType<typeof parseHeader>["headers"],
  body: Buffer,
  depth: number,
  out: BodyPart[],
): void {
  if (out.length >= MAX_PARTS) return;
  const ct = fieldValues({ headers }, "Content-Type")[0] ?? "text/plain";
  const type = (/^\s*([^;\s]+)/.exec(ct)?.[1] ?? "text/plain").toLowerCase();
  const boundary = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(ct);
  if (type.startsWith("multipart/") && boundary && depth < MAX_DEPTH) {
    const b = boundary[1] ?? boundary[2]!;
    const text = body.toString("latin1");
    const pieces = text.split(
      new RegExp(`(?:^|\\r?\\n)--${b.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(--)?[ \\t]*(?:\\r?\\n|$)`),
    );
    // pieces: preamble, then alternating (closing marker, part) pairs
    for (let i = 1; i + 1 < pieces.length; i += 2) {
      if (pieces[i] === "--") break;
      const part = Buffer.from(pieces[i + 1] ?? "", "latin1");
      const parsed = parseHeader(part);
      walk(parsed.headers, part.subarray(parsed.bodyOffset), depth + 1, out);
    }
    return;
  }
  const cte = (fieldValues({ headers }, "Content-Transfer-Encoding")[0] ?? "").trim().toLowerCase();
  let bytes: Buffer = body;
  if (cte === "base64")
    bytes = Buffer.from(body.toString("latin1").replace(/[^A-Za-z0-9+/=]/g, ""), "base64");
  else if (cte === "quoted-printable") {
    const s = body
      .toString("latin1")
      .replace(/=\r?\n/g, "")
      .replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    bytes = Buffer.from(s, "latin1");
  }
  out.push({ type, text: bytes.toString("utf8") });
}
