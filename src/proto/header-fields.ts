// The header section of an RFC 5322 message as fields, and the addresses in an address-list
// field (To, Cc, Bcc: RFC 5322 §3.4, §3.6.3), without I/O. Input is an untrusted message: every
// scan is bounded by its length, unparseable pieces are skipped rather than guessed at, and only
// addr-specs that look like local@domain are returned.
const CR = 0x0d;
const LF = 0x0a;

export interface HeaderField {
  /** Field name as written (compare case-insensitively). */
  readonly name: string;
  /** Unfolded value (line breaks of folding removed), latin1-decoded bytes as UTF-8 text. */
  readonly value: string;
  /** Byte range of the whole field, line ending(s) included, in the message. */
  readonly start: number;
  readonly end: number;
}

/**
 * The empty line that ends the header section (RFC 5322 §2.1), in `b`, the message from its
 * first byte: `start` is where the line break ending the last field begins (0 when the message
 * starts with the empty line: no header), `end` is just past the empty line; null while `b`
 * holds none. A bare LF counts as CRLF (Maildir files may have them). `from` lets a reader that
 * gets the message in chunks search only what is new: the length it had before the new chunk,
 * less 3 (an empty line split across chunks).
 */
export function findHeaderEnd(b: Buffer, from = 0): { readonly start: number; readonly end: number } | null {
  if (from === 0 && (b[0] === LF || (b[0] === CR && b[1] === LF)))
    return { start: 0, end: b[0] === LF ? 1 : 2 };
  for (let lf = b.indexOf(LF, from); lf >= 0; lf = b.indexOf(LF, lf + 1)) {
    const next = b[lf + 1] === CR ? lf + 2 : lf + 1;
    if (b[next] === LF) return { start: lf > 0 && b[lf - 1] === CR ? lf - 1 : lf, end: next + 1 };
  }
  return null;
}

/** Offset just past the blank line that ends the header section (message length if none). */
export const headerEnd = (message: Buffer): number => findHeaderEnd(message)?.end ?? message.length;

/** Every field of the header section, in order. Lines that are not fields are skipped. */
export function headerFields(message: Buffer): HeaderField[] {
  const end = headerEnd(message);
  const out: HeaderField[] = [];
  let pos = 0;
  while (pos < end) {
    let lineEnd = message.indexOf(LF, pos);
    if (lineEnd < 0 || lineEnd >= end) lineEnd = end - 1;
    let fieldEnd = lineEnd + 1;
    // Continuation lines start with white space (folding, §2.2.3).
    while (fieldEnd < end && (message[fieldEnd] === 0x20 || message[fieldEnd] === 0x09)) {
      const next = message.indexOf(LF, fieldEnd);
      fieldEnd = next < 0 || next >= end ? end : next + 1;
    }
    const text = message.subarray(pos, fieldEnd).toString("utf8");
    const colon = text.indexOf(":");
    // RFC 5322 §4.5: obsolete syntax allows white space before the colon ("From : x").
    const name = colon > 0 ? text.slice(0, colon).replace(/[ \t]+$/, "") : "";
    if (/^[\x21-\x39\x3b-\x7e]+$/.test(name)) {
      out.push({
        name,
        value: text
          .slice(colon + 1)
          .replace(/\r?\n/g, "")
          .trim(),
        start: pos,
        end: fieldEnd,
      });
    }
    pos = fieldEnd;
  }
  return out;
}

/** The message without the fields whose names are in `names` (lower-case). */
export function withoutFields(message: Buffer, names: ReadonlySet<string>): Buffer {
  const drop = headerFields(message).filter((f) => names.has(f.name.toLowerCase()));
  return drop.length === 0 ? message : Buffer.concat(piecesWithout(message, drop));
}

/** What is left of `buf` without the fields `drop` (in order, from headerFields of it): slices, no copy. */
export function piecesWithout(buf: Buffer, drop: readonly Pick<HeaderField, "start" | "end">[]): Buffer[] {
  const parts: Buffer[] = [];
  let pos = 0;
  for (const f of drop) {
    parts.push(buf.subarray(pos, f.start));
    pos = f.end;
  }
  parts.push(buf.subarray(pos));
  return parts;
}

/** Removes (comments), nested, outside quoted strings. */
function stripComments(s: string): string {
  let out = "";
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && (quoted || depth > 0)) {
      if (depth === 0) out += c + (s[i + 1] ?? "");
      i++;
      continue;
    }
    if (depth === 0 && c === '"') quoted = !quoted;
    if (!quoted && c === "(") depth++;
    else if (!quoted && c === ")" && depth > 0) {
      depth--;
      continue;
    }
    if (depth === 0) out += c;
  }
  return out;
}

/** Splits at top-level commas (and group punctuation), not inside quotes or angle brackets. */
function splitList(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  let angle = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && quoted) {
      cur += c + (s[i + 1] ?? "");
      i++;
      continue;
    }
    if (c === '"' && !angle) quoted = !quoted;
    else if (!quoted && c === "<") angle = true;
    else if (!quoted && c === ">") angle = false;
    if (!quoted && !angle && (c === "," || c === ";")) {
      out.push(cur);
      cur = "";
      continue;
    }
    // "Group name:" starts a group: what came before is its display name.
    if (!quoted && !angle && c === ":") {
      cur = "";
      continue;
    }
    cur += c;
  }
  out.push(cur);
  return out;
}

const ADDR_SPEC = /^[^\s@<>()",;:\\[\]]+@[A-Za-z0-9.-]+$|^"(?:[^"\\]|\\.)+"@[A-Za-z0-9.-]+$/;

/** The addr-specs of an address-list value, in order, duplicates kept. */
export function parseAddressList(value: string): string[] {
  const out: string[] = [];
  for (const piece of splitList(stripComments(value))) {
    const p = piece.trim();
    if (p === "") continue;
    const angle = /<([^<>]*)>\s*$/.exec(p);
    let spec = (angle ? angle[1]! : p).trim();
    // A source route (<@a,@b:x@y>) is obsolete syntax (§4.4): keep the mailbox. A route's
    // domains hold no "@": with "@" allowed in them the expression could split "@a@a@a…" in
    // exponentially many ways before failing (80 bytes of From: froze the event loop).
    spec = spec.replace(/^(?:@[^,:@]+,?)+:/, "");
    if (ADDR_SPEC.test(spec)) out.push(spec);
  }
  return out;
}
