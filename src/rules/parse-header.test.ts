// parseHeader reads each field once, not line by line: the same fields, values, raw bytes and
// body offset as a plain line-by-line reader, on many random headers full of folding, bare CR
// and LF, lines that are not fields (where the body starts) and a missing end; and a field
// folded over 80,000 lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseHeader } from "./message.js";
import { randomText, seeded } from "../../test/kit/random-text.js";

/** A line-by-line reader (values before the UTF-8 step). */
function reference(raw: Buffer): { fields: [string, string, string][]; bodyOffset: number } {
  const fields: [string, string, string][] = [];
  let pos = 0;
  let cur: { name: string; lines: string[]; start: number } | null = null;
  const flush = (end: number): void => {
    if (cur && fields.length < 1000)
      fields.push([
        cur.name,
        cur.lines
          .join("")
          .replace(/^[ \t]+/, "")
          .trimEnd(),
        raw.subarray(cur.start, end).toString("latin1"),
      ]);
    cur = null;
  };
  while (pos < raw.length) {
    let end = raw.indexOf(0x0a, pos);
    if (end < 0) end = raw.length;
    let line = raw.toString("latin1", pos, end);
    const next = end + 1;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line === "") {
      flush(pos);
      return { fields, bodyOffset: Math.min(next, raw.length) };
    }
    if ((line.startsWith(" ") || line.startsWith("\t")) && cur) cur.lines.push(line);
    else {
      flush(pos);
      // a line that is not "name:" starts the body
      const field = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/.exec(line);
      if (!field) return { fields, bodyOffset: pos };
      const colon = field[0].length - 1;
      cur = { name: line.slice(0, colon).trimEnd(), lines: [line.slice(colon + 1)], start: pos };
    }
    pos = next;
  }
  flush(raw.length);
  return { fields, bodyOffset: raw.length };
}

test("parseHeader agrees with the line-by-line reader on 20,000 random headers", () => {
  const rnd = seeded(5);
  const pieces = ["A", "b", ":", " ", "\t", "\r\n", "\n", "\r", "x:", "Subject: ", " v", "\r\nB: "];
  for (let i = 0; i < 20_000; i++) {
    const text = randomText(rnd, pieces, 14);
    const raw = Buffer.from(text, "latin1");
    const got = parseHeader(raw);
    const want = reference(raw);
    assert.equal(got.bodyOffset, want.bodyOffset, JSON.stringify(text));
    assert.deepEqual(
      got.headers.map((h) => [
        h.name,
        Buffer.from(h.value, "utf8").toString("latin1"),
        h.raw?.toString("latin1"),
      ]),
      want.fields.map(([n, v, r]) => [
        n,
        Buffer.from(Buffer.from(v, "latin1").toString("utf8"), "utf8").toString("latin1"),
        r,
      ]),
      JSON.stringify(text),
    );
  }
});

test("a field folded over 80,000 lines is one value", () => {
  const raw = Buffer.from("Subject: a\r\n" + " b\r\n".repeat(80_000) + "\r\nbody");
  const { headers, bodyOffset } = parseHeader(raw);
  assert.equal(headers.length, 1);
  assert.equal(headers[0]!.value, "a" + " b".repeat(80_000));
  assert.equal(raw.subarray(bodyOffset).toString(), "body");
});
