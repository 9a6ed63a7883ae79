import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { jsonBody, readBounded } from "./bounded-body.js";

void test("a body up to the bound is read whole; one byte more is too large and the rest is not read", async () => {
  const chunks = (): Buffer[] => [Buffer.from("abc"), Buffer.from("def"), Buffer.from("g")];
  assert.deepEqual(await readBounded(Readable.from(chunks()), 7), Buffer.from("abcdefg"));
  assert.deepEqual(await readBounded(Readable.from([]), 0), Buffer.alloc(0));
  const over = Readable.from(chunks());
  assert.equal(await readBounded(over, 6), "too-large");
  assert.equal(over.destroyed, true);
});

void test("a JSON body: empty is {}, white space around it is fine, anything else that does not parse is not JSON", () => {
  assert.deepEqual(jsonBody(Buffer.from("")), { value: {} });
  assert.deepEqual(jsonBody(Buffer.from(' {"a": 1}\n')), { value: { a: 1 } });
  assert.equal(jsonBody(Buffer.from("{a")), "not-json");
});
