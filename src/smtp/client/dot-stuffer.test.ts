import { test } from "node:test";
import assert from "node:assert/strict";
import { DotStuffer } from "./dot-stuffer.js";

const stuff = (msg: Buffer, splits: number[] = []): string => {
  const d = new DotStuffer();
  const parts: Buffer[] = [];
  let at = 0;
  for (const s of [...splits, msg.length]) {
    // Copy each piece so slices never alias a neighbour by accident.
    parts.push(...d.push(Buffer.from(msg.subarray(at, s))));
    at = s;
  }
  parts.push(d.end());
  return Buffer.concat(parts).toString("latin1");
};

const reference = (msg: string): string => {
  const body = msg.replace(/(^|\r\n)\./g, "$1..");
  return body.endsWith("\r\n") || body === "" ? body + ".\r\n" : body + "\r\n.\r\n";
};

const CASES = [
  "",
  ".",
  ".\r\n",
  "a\r\n.\r\nb\r\n",
  "..x\r\n.y\r\n\r\n.\r\n",
  "no final newline",
  "x\r\n.",
  "line\r\n\r\n..\r\n",
  "a.b\r\n c.\r\n",
];

test("dot-stuffing matches the reference for every case split at every offset", () => {
  for (const c of CASES) {
    const msg = Buffer.from(c, "latin1");
    const want = reference(c);
    assert.equal(stuff(msg), want, JSON.stringify(c));
    for (let i = 0; i <= msg.length; i++) {
      for (let j = i; j <= msg.length; j++)
        assert.equal(stuff(msg, [i, j]), want, `${JSON.stringify(c)} split ${i},${j}`);
    }
    const ones = Array.from({ length: Math.max(0, msg.length - 1) }, (_, i) => i + 1);
    assert.equal(stuff(msg, ones), want, `${JSON.stringify(c)} in 1-byte pieces`);
  }
});

test("a chunk without dots is passed through as the same buffer (no copy)", () => {
  const chunk = Buffer.from("hello\r\nworld\r\n");
  const out = new DotStuffer().push(chunk);
  assert.equal(out.length, 1);
  assert.equal(out[0], chunk);
});
