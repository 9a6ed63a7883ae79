// The header section's measure: bytes and fields up to the empty line, whatever the chunking,
// folded lines counted in full, the body never counted, bare LF and CRLF alike.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkHeader, HeaderMeter, type HeaderLimits } from "./header-limit.js";

const LIMITS: HeaderLimits = { maxHeaderBytes: 1000, maxHeaderFields: 10 };

/** Feeds the message in pieces of `size` bytes. */
function chunked(message: Buffer, size: number, limits = LIMITS): HeaderMeter {
  const m = new HeaderMeter(limits);
  for (let i = 0; i < message.length; i += size) m.feed(message.subarray(i, i + size));
  return m;
}

test("a header folded over many lines is measured in full: the line limit does not bound it", () => {
  const folded = Buffer.from("Subject: x\r\n" + " y\r\n".repeat(200_000) + "\r\nbody\r\n");
  assert.equal(checkHeader(folded, LIMITS), "headerTooBig");
  assert.equal(checkHeader(folded, { maxHeaderBytes: 1_000_000, maxHeaderFields: 10 }), null);
});

test("fields are counted at the start of each unfolded line, up to the empty line only", () => {
  const fields = (n: number, body = ""): Buffer =>
    Buffer.from(Array.from({ length: n }, (_, i) => `X-${i}: v\r\n continued\r\n`).join("") + "\r\n" + body);
  assert.equal(checkHeader(fields(10), LIMITS), null, "ten fields, each folded, are ten");
  assert.equal(checkHeader(fields(11), LIMITS), "tooManyFields");
  assert.equal(checkHeader(fields(2, "A: b\r\n".repeat(5000)), LIMITS), null, "the body is not header");
});

test("the byte limit counts line ends and the empty line; exactly at the limit passes", () => {
  const head = "A: " + "x".repeat(1000 - 3 - 2 - 2) + "\r\n"; // 998 bytes + the empty line = 1000
  assert.equal(Buffer.byteLength(head) + 2, 1000);
  assert.equal(checkHeader(Buffer.from(head + "\r\nbody"), LIMITS), null);
  assert.equal(checkHeader(Buffer.from("B" + head + "\r\nbody"), LIMITS), "headerTooBig");
});

test("the same answer for any chunking, CRLF or bare LF, and a message that is all header", () => {
  const cases: [string, string | null][] = [
    ["A: 1\r\nB: 2\r\n\r\n" + "C: 3\r\n".repeat(100), null],
    ["A: 1\nB: 2\n\n" + "C: 3\n".repeat(100), null],
    ["A: 1\r\n".repeat(11), "tooManyFields"],
    ["A: 1\n".repeat(11) + "\nbody", "tooManyFields"],
    ["A: " + "x".repeat(2000), "headerTooBig"],
    ["A: 1\r\n\r\n" + "x".repeat(5000), null],
  ];
  for (const [text, want] of cases) {
    const msg = Buffer.from(text);
    for (const size of [1, 2, 3, 7, 64, msg.length]) {
      assert.equal(
        chunked(msg, size).error,
        want,
        `${JSON.stringify(text.slice(0, 20))} in pieces of ${size}`,
      );
    }
  }
});
