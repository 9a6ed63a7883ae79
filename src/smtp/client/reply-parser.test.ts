import { test } from "node:test";
import assert from "node:assert/strict";
import type { Reply } from "../../proto/reply.js";
import { ReplyParser, MAX_REPLY_LINE } from "./reply-parser.js";

const parseAll = (wire: string, splits: number[] = []): Reply[] => {
  const p = new ReplyParser();
  const buf = Buffer.from(wire);
  const out: Reply[] = [];
  let at = 0;
  for (const s of [...splits, buf.length]) {
    out.push(...p.push(buf.subarray(at, s)));
    at = s;
  }
  return out;
};

const WIRE =
  "220 mx.test ESMTP\r\n" +
  "250-mx.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n" +
  "550-5.1.1 No such\r\n550 5.1.1 user here\r\n" +
  "451 4.3.0\r\n" +
  "250\r\n";

const EXPECTED: Reply[] = [
  { code: 220, enhanced: null, text: "mx.test ESMTP" },
  { code: 250, enhanced: null, text: "mx.test\nPIPELINING\nSIZE 1000" },
  { code: 550, enhanced: "5.1.1", text: "No such\nuser here" },
  { code: 451, enhanced: "4.3.0", text: "" },
  { code: 250, enhanced: null, text: "" },
];

test("multi-line replies and enhanced codes are parsed", () => {
  assert.deepEqual(parseAll(WIRE), EXPECTED);
});

test("the same replies come out however the bytes are split (every offset, and 1-byte pieces)", () => {
  for (let i = 0; i <= WIRE.length; i++) assert.deepEqual(parseAll(WIRE, [i]), EXPECTED, `split at ${i}`);
  const ones = Array.from({ length: WIRE.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(parseAll(WIRE, ones), EXPECTED);
});

test("an enhanced code of the wrong class stays in the text", () => {
  assert.deepEqual(parseAll("250 5.1.1 odd\r\n"), [{ code: 250, enhanced: null, text: "5.1.1 odd" }]);
});

test("bare LF line endings from sloppy servers are accepted", () => {
  assert.deepEqual(parseAll("250-a\n250 b\n"), [{ code: 250, enhanced: null, text: "a\nb" }]);
});

test("garbage, code changes and overlong lines are protocol errors", () => {
  assert.throws(() => parseAll("HTTP/1.1 400 Bad\r\n"), /malformed/);
  assert.throws(() => parseAll("250-a\r\n251 b\r\n"), /code changed/);
  assert.throws(() => parseAll("250 " + "x".repeat(MAX_REPLY_LINE) + "\r\n"), /too long/);
  assert.throws(() => parseAll("250 " + "x".repeat(MAX_REPLY_LINE)), /too long/);
  assert.throws(() => parseAll("250-x\r\n".repeat(200)), /too many lines/);
});
