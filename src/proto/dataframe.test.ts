import { test } from "node:test";
import assert from "node:assert/strict";
import { DataDecoder, declaredContent, type DataError, type DataLimits, type Framing } from "./dataframe.js";

const ANY = { eightBit: true, nul: true };
const limits: DataLimits = { maxBytes: 1_000_000, maxLine: 1000, content: ANY };

interface Decoded {
  data: string;
  end: boolean;
  rest: string;
  error: DataError | null;
}

function decode(chunks: readonly Buffer[], l = limits, framing: Framing = "data"): Decoded {
  const d = new DataDecoder(l, framing);
  const parts: Buffer[] = [];
  let rest = Buffer.alloc(0);
  let end = false;
  for (const c of chunks) {
    const r = d.feed(c);
    parts.push(r.data);
    if (r.end) {
      end = true;
      rest = Buffer.concat([rest, r.rest]);
    }
  }
  if (framing === "bdat") d.close();
  return {
    data: Buffer.concat(parts).toString("latin1"),
    end,
    rest: rest.toString("latin1"),
    error: d.error,
  };
}

/** Decodes text whole, then split at every offset (two pieces) and byte by byte: all must agree. */
function decodeEverySplit(text: string, l = limits, framing: Framing = "data"): Decoded {
  const b = Buffer.from(text, "latin1");
  const whole = decode([b], l, framing);
  // Bytes handed out before an error showed up may differ (the session discards them anyway).
  const same = (d: Decoded): Decoded => (d.error === null ? d : { ...d, data: "" });
  for (let i = 0; i <= b.length; i++) {
    const split = decode([b.subarray(0, i), b.subarray(i)], l, framing);
    assert.deepEqual(same(split), same(whole), `split at ${i} of ${JSON.stringify(text)}`);
  }
  const bytes = Array.from(b, (_, i) => b.subarray(i, i + 1));
  assert.deepEqual(same(decode(bytes, l, framing)), same(whole), `byte by byte: ${JSON.stringify(text)}`);
  return whole;
}

test("plain message ends at CRLF.CRLF; the CRLF before the dot belongs to the message", () => {
  const r = decodeEverySplit("Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n");
  assert.deepEqual(r, { data: "Subject: x\r\n\r\nhello\r\n", end: true, rest: "QUIT\r\n", error: null });
});

test("a lone dot line at the very start ends an empty message", () => {
  assert.deepEqual(decodeEverySplit(".\r\nNOOP\r\n"), { data: "", end: true, rest: "NOOP\r\n", error: null });
});

test("dot-stuffing is removed at line starts only", () => {
  const r = decodeEverySplit("..leading\r\nmid.dle\r\n...\r\n. x\r\n.\r\n");
  assert.equal(r.data, ".leading\r\nmid.dle\r\n..\r\n x\r\n");
  assert.equal(r.error, null);
  assert.equal(r.end, true);
});

test("no terminator yet: not ended, everything so far handed out", () => {
  const r = decodeEverySplit("line one\r\nline two\r\n.");
  assert.deepEqual(r, { data: "line one\r\nline two\r\n", end: false, rest: "", error: null });
});

test("SMTP smuggling terminators never end the data and flag bare line endings", () => {
  const smuggled = ["\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r"];
  for (const bad of smuggled) {
    const text = `Subject: one\r\n\r\nbody${bad}MAIL FROM:<evil@x.test>\r\nRCPT TO:<v@y.test>\r\nDATA\r\nforged\r\n.\r\nNOOP\r\n`;
    const r = decodeEverySplit(text);
    assert.equal(r.error, "bareLineEnding", JSON.stringify(bad));
    assert.equal(r.end, true, "ends at the real terminator");
    assert.equal(
      r.rest,
      "NOOP\r\n",
      `only what follows the real CRLF.CRLF is left for ${JSON.stringify(bad)}`,
    );
  }
});

test("bare LF or bare CR inside a line is an error; the data still ends at CRLF.CRLF", () => {
  for (const text of [
    "a\nb\r\n.\r\n",
    "a\rb\r\n.\r\n",
    "\n.\r\n.\r\n",
    "x\r\r\n.\r\n",
    "x\r\n\n.\r\n.\r\n",
  ]) {
    const r = decodeEverySplit(text);
    assert.equal(r.error, "bareLineEnding", JSON.stringify(text));
    assert.equal(r.end, true, JSON.stringify(text));
  }
});

test("many bare CRs in one chunk are scanned in linear time", () => {
  const text = "\r".repeat(200_000) + "\r\n.\r\n";
  const d = new DataDecoder(limits);
  const started = process.hrtime.bigint();
  const r = d.feed(Buffer.from(text, "latin1"));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(d.error, "bareLineEnding");
  assert.equal(r.end, true);
  assert.ok(ms < 1000, `took ${ms} ms`);
});

test("size limit counts unstuffed bytes and flags tooBig", () => {
  const l = { maxBytes: 10, maxLine: 1000, content: ANY };
  assert.equal(decodeEverySplit("12345678\r\n.\r\n", l).error, null);
  const r = decodeEverySplit("123456789\r\n.\r\n", l);
  assert.equal(r.error, "tooBig");
  assert.equal(r.end, true);
  assert.equal(decodeEverySplit("..234567\r\n.\r\n", l).error, null, "the stuffing dot does not count");
});

test("line limit counts wire bytes including CRLF", () => {
  const l = { maxBytes: 1_000_000, maxLine: 1000, content: ANY };
  const ok = decodeEverySplit(`${"a".repeat(998)}\r\n.\r\n`, l);
  assert.equal(ok.error, null);
  const d = new DataDecoder(l);
  d.feed(Buffer.from(`${"a".repeat(998)}\r\n.\r\n`));
  assert.equal(d.longestLine, 1000);
  assert.equal(decodeEverySplit(`${"a".repeat(999)}\r\n.\r\n`, l).error, "lineTooLong");
  // A line that never ends is caught without waiting for its end.
  const open = new DataDecoder(l);
  open.feed(Buffer.alloc(5000, 0x61));
  assert.equal(open.error, "lineTooLong");
});

test("binary-ish bytes (NUL, 8-bit) pass through when the content rules allow them", () => {
  const r = decodeEverySplit("\x00\xff\xe9t\xe9\r\n.\r\n");
  assert.equal(r.data, "\x00\xff\xe9t\xe9\r\n");
  assert.equal(r.error, null);
});

test("declared content: 8-bit needs BODY=8BITMIME or SMTPUTF8, NUL needs BINARYMIME", () => {
  assert.deepEqual(declaredContent({ body: "7BIT", smtputf8: false }), { eightBit: false, nul: false });
  assert.deepEqual(declaredContent({ body: "7BIT", smtputf8: true }), { eightBit: true, nul: false });
  assert.deepEqual(declaredContent({ body: "8BITMIME", smtputf8: false }), { eightBit: true, nul: false });
  assert.deepEqual(declaredContent({ body: "BINARYMIME", smtputf8: false }), { eightBit: true, nul: true });
});

test("undeclared 8-bit or NUL is flagged, in DATA and BDAT framing, wherever the chunks split", () => {
  const seven = { ...limits, content: declaredContent({ body: "7BIT", smtputf8: false }) };
  const eight = { ...limits, content: declaredContent({ body: "8BITMIME", smtputf8: false }) };
  for (const framing of ["data", "bdat"] as const) {
    const end = framing === "data" ? ".\r\n" : "";
    assert.equal(decodeEverySplit(`ascii\r\n${end}`, seven, framing).error, null);
    assert.equal(decodeEverySplit(`caf\xe9\r\n${end}`, seven, framing).error, "eightBit");
    assert.equal(decodeEverySplit(`caf\xe9\r\n${end}`, eight, framing).error, null);
    assert.equal(decodeEverySplit(`a\x00b\r\n${end}`, eight, framing).error, "nul");
    assert.equal(decodeEverySplit(`a\x00b\r\n${end}`, seven, framing).error, "nul");
  }
});

test("BDAT framing: no dots, no terminator, CRLF only, a CR left at the end is bare", () => {
  const ok = decodeEverySplit("..x\r\n.\r\nafter\r\nno final line end", limits, "bdat");
  assert.deepEqual(ok, {
    data: "..x\r\n.\r\nafter\r\nno final line end",
    end: false,
    rest: "",
    error: null,
  });
  for (const bad of ["\n.\n", "\n.\r\n", "\r.\r", "\r.\n", "a\rb", "a\nb", "end\r"]) {
    const r = decodeEverySplit(`Subject: x\r\n\r\n${bad}`, limits, "bdat");
    assert.equal(r.error, "bareLineEnding", JSON.stringify(bad));
  }
  const l = { ...limits, maxLine: 1000 };
  assert.equal(decodeEverySplit(`${"a".repeat(998)}\r\n`, l, "bdat").error, null);
  assert.equal(decodeEverySplit(`${"a".repeat(999)}\r\n`, l, "bdat").error, "lineTooLong");
  assert.equal(decodeEverySplit("a".repeat(1001), l, "bdat").error, "lineTooLong");
});
