// parseAddressList (header-fields.ts) on hostile From:/To: values: the obsolete source-route
// syntax must not backtrack exponentially ("@a@a@a…" without a colon), and routes still go.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAddressList } from "./header-fields.js";

void test("a route-like value without a colon is read at once; real source routes are still dropped", () => {
  // 2^40 ways to split for the old expression: it never came back
  assert.deepEqual(parseAddressList(`<@${"a@".repeat(40)}>`), []);
  assert.deepEqual(parseAddressList(`@${"a@".repeat(40)}x`), []);
  assert.deepEqual(parseAddressList("<@r1.test,@r2.test:bob@example.test>"), ["bob@example.test"]);
  assert.deepEqual(parseAddressList("Bob <@r1.test:bob@example.test>"), ["bob@example.test"]);
});
