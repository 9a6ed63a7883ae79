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
  // Stray CR and LF are line ends, NUL is dropped (stray-cr-lf.ts), then dots are stuffed.
  // eslint-disable-next-line no-control-regex
  const lines = msg.replace(/\x00/g, "").replace(/\r\n|\r|\n/g, "\r\n");
  const body = lines.replace(/(^|\r\n)\./g, "$1..");
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
  // SMTP smuggling shapes and other stray line ends, as BDAT could once store them.
  "a\n.\nb",
  "a\n.\r\nb\r\n",
  "a\r.\rb",
  "a\r.\nb\r",
  "a\r\n.\nMAIL FROM:<x@y>\r\n",
  "\n.\n",
  "\r",
  "x\r\r\n.\r\n",
  "nul\x00.\x00\r\n\x00.\r\n",
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

test("no DATA stream holds an end of data but the last CRLF.CRLF, whatever the bytes", () => {
  // Every string over the alphabet below up to 6 bytes, as one chunk and in 1-byte pieces.
  const alphabet = ["\r", "\n", ".", "\x00", "a"];
  const bad = ["\n.\n", "\n.\r", "\r.\r", "\r.\n", "\r\n.\r\n", "\x00"];
  let n = 0;
  const walk = (prefix: string): void => {
    if (prefix.length > 0) {
      const msg = Buffer.from(prefix, "latin1");
      for (const out of [
        stuff(msg),
        stuff(
          msg,
          Array.from({ length: msg.length - 1 }, (_, i) => i + 1),
        ),
      ]) {
        n++;
        const inner = out.slice(0, out.length - 3);
        assert.ok(out.endsWith("\r\n.\r\n") || out === ".\r\n", JSON.stringify(out));
        for (const b of bad)
          assert.ok(!inner.includes(b), `${JSON.stringify(prefix)} → ${JSON.stringify(out)}`);
        assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(out), `stray line end in ${JSON.stringify(out)}`);
      }
    }
    if (prefix.length < 6) for (const c of alphabet) walk(prefix + c);
  };
  walk("");
  assert.ok(n > 7000);
});
