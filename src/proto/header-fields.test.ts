import { test } from "node:test";
import assert from "node:assert/strict";
import { headerEnd, headerFields, parseAddressList, withoutFields } from "./header-fields.js";

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
