// The header section's measure: bytes and fields up to the empty line (or the first line that is
// not a field), whatever the chunking, folded lines counted in full, the body never counted,
// bare LF and CRLF alike.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkHeader, fieldColon, HeaderMeter, type HeaderLimits } from "./header-limit.js";
import { randomText, seeded } from "../../test/kit/random-text.js";

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

test("a line that is not a field ends the header: header-less text is body, however long", () => {
  const text = Buffer.from("Hello there,\r\n" + "a line of text without a colon\r\n".repeat(20_000));
  const m = new HeaderMeter(LIMITS);
  assert.equal(m.feed(text), null);
  assert.deepEqual([m.done, m.bytes, m.fields], [true, 0, 0]);
  const after = Buffer.from("A: 1\r\n folded\r\nnot a field\r\n" + "B: 2\r\n".repeat(2000));
  const n = new HeaderMeter(LIMITS);
  assert.equal(n.feed(after), null, "fields after the body's first line are body");
  assert.deepEqual([n.done, n.bytes, n.fields], [true, 15, 1]);
  assert.equal(checkHeader(Buffer.from(" leading space\r\n" + "B: 2\r\n".repeat(2000)), LIMITS), null);
});

test("fieldColon and the streaming measure agree on where the header ends, in any chunks", () => {
  const rnd = seeded(3);
  const pieces = ["A", "-", ":", " ", "\t", "\r\n", "\n", "\r", "\x01", "é", "X: v"];
  for (let i = 0; i < 10_000; i++) {
    const text = randomText(rnd, pieces, 12);
    const buf = Buffer.from(text, "latin1");
    // the reference: whole lines, tested with fieldColon
    let pos = 0;
    let fields = 0;
    let end = -1;
    while (pos < buf.length) {
      let lf = buf.indexOf(0x0a, pos);
      const last = lf < 0;
      if (last) lf = buf.length;
      if (last) break; // an unfinished line: the measure may not have decided yet
      const stop = lf > pos && buf[lf - 1] === 0x0d ? lf - 1 : lf;
      if (stop === pos) {
        end = lf + 1;
        break;
      }
      const wsp = buf[pos] === 0x20 || buf[pos] === 0x09;
      if (!(wsp && fields > 0)) {
        if (fieldColon(buf, pos, stop) < 0) {
          end = pos;
          break;
        }
        fields++;
      }
      pos = lf + 1;
    }
    const m = chunked(buf, 1 + Math.floor(rnd() * 4), { maxHeaderBytes: 1e9, maxHeaderFields: 1e9 });
    if (end >= 0) {
      assert.equal(m.done, true, JSON.stringify(text));
      assert.equal(m.bytes, end, JSON.stringify(text));
      assert.equal(m.fields, fields, JSON.stringify(text));
    }
  }
});
