import { test } from "node:test";
import assert from "node:assert/strict";
import { isUidl, multiLine, parseMessageNumber, topOf, wireSize } from "./pop3.js";

void test("multiLine: CRLF everywhere, leading dots doubled, last line ended, terminator added", () => {
  const cases: [string, string][] = [
    ["", ".\r\n"],
    ["a\r\nb\r\n", "a\r\nb\r\n.\r\n"],
    ["a\nb", "a\r\nb\r\n.\r\n"],
    [".\r\n..x\r\n", "..\r\n...x\r\n.\r\n"],
    ["x\r\n.", "x\r\n..\r\n.\r\n"],
    ["a\r", "a\r\n.\r\n"],
    ["a\rb\n", "a\rb\r\n.\r\n"],
  ];
  for (const [input, wire] of cases)
    assert.equal(multiLine(Buffer.from(input)).toString(), wire, JSON.stringify(input));
});

void test("wireSize is the length of what multiLine sends, less stuffing and terminator", () => {
  for (const input of ["", "a\r\nb\r\n", "a\nb", "x\r\n.", "a\r", "a\rb\n", "\n\n", "h: v\r\n\r\nbody"]) {
    const wire = multiLine(Buffer.from(input)).toString().slice(0, -3);
    const unstuffed = wire.replace(/^\./gm, "");
    assert.equal(wireSize(Buffer.from(input)), unstuffed.length, JSON.stringify(input));
  }
});

void test("topOf: header, blank line and n body lines; the whole message when it is shorter", () => {
  const m = Buffer.from("A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n");
  assert.equal(topOf(m, 0).toString(), "A: 1\r\nB: 2\r\n\r\n");
  assert.equal(topOf(m, 2).toString(), "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
  assert.equal(topOf(m, 9).toString(), m.toString());
  assert.equal(topOf(Buffer.from("A: 1\nB: 2\n\nx\ny\n"), 1).toString(), "A: 1\nB: 2\n\nx\n");
  assert.equal(topOf(Buffer.from("A: no body"), 3).toString(), "A: no body");
});

void test("message numbers are plain positive decimals; UIDs are 1-70 printable characters", () => {
  assert.equal(parseMessageNumber("1"), 1);
  assert.equal(parseMessageNumber("007"), 7);
  for (const bad of ["", "0", "-1", "+1", "1 ", "1a", "1234567890", "0x1"])
    assert.equal(parseMessageNumber(bad), null, bad);
  assert.ok(isUidl("1700000000.M1P2Q3.host,S=12"));
  assert.ok(!isUidl("a b"));
  assert.ok(!isUidl("x".repeat(71)));
  assert.ok(!isUidl(""));
});
