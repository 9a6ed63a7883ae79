// HeaderCapture: the From: addresses of a streamed message, fed whole, split at every byte
// offset and one byte at a time; the header section's end found across chunk boundaries (CRLF
// and bare LF); a header past the bound is "too-large", never a guess.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HeaderCapture, type FromField } from "./from-header.js";

function fromOf(chunks: readonly Buffer[], limit?: number): FromField {
  const c = new HeaderCapture(limit);
  for (const ch of chunks) c.take(ch);
  return c.from();
}

function everySplit(message: string, expected: FromField): void {
  const b = Buffer.from(message, "latin1");
  assert.deepEqual(fromOf([b]), expected, "whole");
  for (let i = 0; i <= b.length; i++) {
    assert.deepEqual(fromOf([b.subarray(0, i), b.subarray(i)]), expected, `split at ${i}`);
  }
  assert.deepEqual(fromOf([...b].map((x) => Buffer.from([x]))), expected, "byte by byte");
}

void test("From: addresses of every From: field, folded, and nothing from the body", () => {
  everySplit(
    "Subject: hi\r\nFrom: Alice <alice@example.test>,\r\n bob@example.test\r\nFROM : <carol@example.test>\r\n\r\nFrom: body@example.test\r\n",
    { kind: "addresses", addresses: ["alice@example.test", "bob@example.test", "carol@example.test"] },
  );
  // The blank line ends the header section even as a bare LF (BDAT passes bytes as they are).
  everySplit("From: a@example.test\n\nFrom: b@example.test\n", {
    kind: "addresses",
    addresses: ["a@example.test"],
  });
  everySplit("To: x@example.test\r\n\r\nFrom: body@example.test\r\n", { kind: "none" });
  everySplit("From: undisclosed-recipients:;\r\n\r\n", { kind: "addresses", addresses: [] });
  // A message that is all header (no blank line) is read to its end.
  everySplit("From: a@example.test\r\n", { kind: "addresses", addresses: ["a@example.test"] });
});

void test("a header section longer than the bound cannot be checked", () => {
  const long = `X-Pad: ${"x".repeat(200)}\r\n`.repeat(10) + "From: bob@example.test\r\n\r\n";
  assert.deepEqual(fromOf([Buffer.from(long)], 1000), { kind: "too-large" });
  assert.deepEqual(fromOf([Buffer.from(long)], 100_000), {
    kind: "addresses",
    addresses: ["bob@example.test"],
  });
  // The body may be as long as it likes once the header section has ended.
  const c = new HeaderCapture(100);
  c.take(Buffer.from("From: a@example.test\r\n\r\n"));
  c.take(Buffer.alloc(10_000, 0x61));
  assert.deepEqual(c.from(), { kind: "addresses", addresses: ["a@example.test"] });
});
