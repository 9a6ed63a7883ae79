import { test } from "node:test";
import assert from "node:assert/strict";
import { findHeaderEnd, headerEnd, headerFields, parseAddressList, withoutFields } from "./header-fields.js";

void test("header fields: unfolded values, byte ranges, the body left alone", () => {
  const m = Buffer.from(
    "To: a@x.test,\r\n  b@y.test\r\nSubject: hi\r\nBcc: c@z.test\r\n\r\nBcc: not-a-header@x.test\r\n",
  );
  const f = headerFields(m);
  assert.deepEqual(
    f.map((x) => [x.name, x.value]),
    [
      ["To", "a@x.test,  b@y.test"],
      ["Subject", "hi"],
      ["Bcc", "c@z.test"],
    ],
  );
  assert.equal(headerEnd(m), m.indexOf("\r\n\r\n") + 4);
  const stripped = withoutFields(m, new Set(["bcc"])).toString();
  assert.equal(stripped, "To: a@x.test,\r\n  b@y.test\r\nSubject: hi\r\n\r\nBcc: not-a-header@x.test\r\n");
  assert.equal(withoutFields(m, new Set(["x-none"])), m);
});

void test("address lists: display names, quotes with commas, comments, groups, angle addresses", () => {
  assert.deepEqual(parseAddressList('"Bob, B." <bob@example.test>, carol@remote.test'), [
    "bob@example.test",
    "carol@remote.test",
  ]);
  assert.deepEqual(parseAddressList("(team) dave@remote.test (Dave), Eve <eve@x.test>"), [
    "dave@remote.test",
    "eve@x.test",
  ]);
  assert.deepEqual(parseAddressList("Friends: a@x.test, b@x.test;, c@x.test"), [
    "a@x.test",
    "b@x.test",
    "c@x.test",
  ]);
  assert.deepEqual(parseAddressList("undisclosed-recipients:;"), []);
  assert.deepEqual(parseAddressList('"quoted local"@x.test'), ['"quoted local"@x.test']);
  assert.deepEqual(parseAddressList("<@route.test:a@x.test>"), ["a@x.test"]);
  assert.deepEqual(parseAddressList("not an address, , @, x@, <>"), []);
});

void test("the empty line ending the header: CRLF, bare LF, mixed, none, and a message with no header", () => {
  const at = (text: string): [number, number] | null => {
    const r = findHeaderEnd(Buffer.from(text, "latin1"));
    return r === null ? null : [r.start, r.end];
  };
  assert.deepEqual(at("A: 1\r\nB: 2\r\n\r\nbody\r\n\r\n"), [10, 14]);
  assert.deepEqual(at("A: 1\nB: 2\n\nbody"), [9, 11]);
  assert.deepEqual(at("A: 1\r\n\nbody"), [4, 7]);
  assert.deepEqual(at("A: 1\n\r\nbody"), [4, 7]);
  assert.deepEqual(at("\r\nbody"), [0, 2]);
  assert.deepEqual(at("\nbody"), [0, 1]);
  // A line holding only CR is not empty; neither is a folded continuation.
  assert.equal(at("A: 1\r\n\r\r\nB: 2\r\n \r\n"), null);
  assert.equal(at("A: 1\r\nB: 2\r\n"), null);
  assert.equal(at(""), null);
});

void test("the end of the header is found the same however the message is split into chunks", () => {
  const cases = ["A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\nB: 2\n\nbody", "\r\nbody", "A: 1\r\n\nx", "A\r\n"];
  for (const text of cases) {
    const whole = Buffer.from(text, "latin1");
    const want = findHeaderEnd(whole);
    for (let cut = 0; cut <= whole.length; cut++) {
      const first = whole.subarray(0, cut);
      // As a chunked reader does: search the first part, then the whole from its length less 3.
      const got = findHeaderEnd(first) ?? findHeaderEnd(whole, Math.max(0, first.length - 3));
      assert.deepEqual(got, want, `${JSON.stringify(text)} cut at ${cut}`);
    }
  }
});
