// The message as milters see it and as their edits leave it, without I/O: the header section
// found as the bytes stream in (HeaderSplit), each field as the name and value of SMFIC_HEADER,
// and the header and body edits of the end of message applied (applyContentEdits). Field
// values a milter adds are untrusted text: NULs are dropped and every line break becomes CRLF
// followed by white space, so an added value can never start a field or end the header.

export interface RawField {
  readonly name: string;
  /** The whole field as it stands in the message, folding and the final CRLF included. */
  readonly raw: Buffer;
}

/** The header section is looked for in at most this many bytes; the rest is body. */
export const MAX_HEADER_BYTES = 1024 * 1024;

/** Finds the end of the header section in a stream of chunks, keeping only the header bytes. */
export class HeaderSplit {
  private parts: Buffer[] = [];
  private size = 0;
  /** The last bytes held (at most 3): CRLF CRLF may straddle two chunks. */
  private tail = Buffer.alloc(0);
  private done = false;

  /**
   * Feed a chunk. Returns null while the header section is still open; once it ends, the
   * header bytes (blank line included) and the part of this chunk that is body.
   */
  push(chunk: Buffer): { header: Buffer; body: Buffer } | null {
    if (this.done) return { header: Buffer.alloc(0), body: chunk };
    const before = this.size;
    this.parts.push(chunk);
    this.size += chunk.length;
    let end = -1;
    // A message may begin with the empty line (no header at all).
    if (before === 0 && chunk.length >= 2 && chunk[0] === 0x0d && chunk[1] === 0x0a) end = 2;
    else if (before < 2 && this.size >= 2 && before + chunk.length >= 2) {
      const head = Buffer.concat([this.tail, chunk]).subarray(0, 2);
      if (before === 1 && head[0] === 0x0d && head[1] === 0x0a) end = 2;
    }
    if (end < 0) {
      const look = Buffer.concat([this.tail, chunk]);
      const at = look.indexOf("\r\n\r\n", 0, "latin1");
      if (at >= 0) end = before - this.tail.length + at + 4;
      else this.tail = Buffer.from(look.subarray(Math.max(0, look.length - 3)));
    }
    if (end < 0 && this.size <= MAX_HEADER_BYTES) return null;
    const joined = Buffer.concat(this.parts);
    this.done = true;
    this.parts = [];
    const cut = end < 0 ? joined.length : end;
    return { header: joined.subarray(0, cut), body: joined.subarray(cut) };
  }

  /** The message ended: whatever was held is the header section (a message without a body). */
  end(): Buffer | null {
    if (this.done) return null;
    this.done = true;
    const joined = Buffer.concat(this.parts);
    this.parts = [];
    return joined;
  }
}

/** The fields of a header section (its blank line is not a field; junk lines join the field before). */
export function splitFields(header: Buffer): RawField[] {
  const out: { name: string; start: number; end: number }[] = [];
  let pos = 0;
  while (pos < header.length) {
    let lf = header.indexOf(0x0a, pos);
    if (lf < 0) lf = header.length - 1;
    const line = header.subarray(pos, lf + 1);
    const blank = line.length <= 2 && (line[0] === 0x0d || line[0] === 0x0a);
    if (blank) break;
    const folded = line[0] === 0x20 || line[0] === 0x09;
    const colon = line.indexOf(0x3a);
    if (!folded && colon > 0)
      out.push({ name: line.toString("latin1", 0, colon).trim(), start: pos, end: lf + 1 });
    else if (out.length > 0) out[out.length - 1]!.end = lf + 1;
    pos = lf + 1;
  }
  return out.map((f) => ({ name: f.name, raw: header.subarray(f.start, f.end) }));
}

/** A field's value as SMFIC_HEADER carries it: after the colon and its leading space, LF line breaks. */
export function fieldValue(f: RawField): string {
  const text = f.raw.toString("latin1");
  return text
    .slice(text.indexOf(":") + 1)
    .replace(/^[ \t]/, "")
    .replace(/\r?\n$/, "")
    .replace(/\r\n/g, "\n");
}

/** A new field's bytes: every line break is CRLF plus white space (never a new field), NULs dropped. */
export function fieldBytes(name: string, value: string): Buffer {
  // Lines that are empty or only white space are dropped: lenient parsers take them for the
  // blank line that ends the header.
  const [first = "", ...rest] = value.replace(/\0/g, "").split(/\r\n|\r|\n/);
  const folded = [
    first,
    ...rest.filter((l) => l.trim() !== "").map((l) => (/^[ \t]/.test(l) ? l : `\t${l}`)),
  ].join("\r\n");
  return Buffer.from(`${name}: ${folded}\r\n`, "latin1");
}

export type ContentEdit =
  | { readonly kind: "addheader"; readonly name: string; readonly value: string }
  | { readonly kind: "chgheader"; readonly index: number; readonly name: string; readonly value: string }
  | { readonly kind: "insheader"; readonly index: number; readonly name: string; readonly value: string };

/**
 * The fields after the edits, in libmilter's meaning: add appends; insert puts the field at
 * position `index` among all fields; change replaces the index-th (from 1) field of that name,
 * removes it when the value is empty, and adds it when there is no such field.
 */
export function applyHeaderEdits(fields: readonly RawField[], edits: readonly ContentEdit[]): RawField[] {
  const out = [...fields];
  const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
  for (const e of edits) {
    switch (e.kind) {
      case "addheader":
        out.push({ name: e.name, raw: fieldBytes(e.name, e.value) });
        break;
      case "insheader":
        out.splice(Math.min(e.index, out.length), 0, { name: e.name, raw: fieldBytes(e.name, e.value) });
        break;
      case "chgheader": {
        let seen = 0;
        const want = Math.max(1, e.index);
        const at = out.findIndex((f) => same(f.name, e.name) && ++seen === want);
        if (at < 0) {
          if (e.value !== "") out.push({ name: e.name, raw: fieldBytes(e.name, e.value) });
        } else if (e.value === "") out.splice(at, 1);
        else out[at] = { name: out[at]!.name, raw: fieldBytes(out[at]!.name, e.value) };
        break;
      }
    }
  }
  return out;
}

/** A replacement body with CRLF line endings (milters may send LF alone). */
export function normaliseBody(body: Buffer): Buffer {
  if (!body.includes(0x0a) && !body.includes(0x0d)) return body;
  return Buffer.from(body.toString("latin1").replace(/\r\n|\r|\n/g, "\r\n"), "latin1");
}
