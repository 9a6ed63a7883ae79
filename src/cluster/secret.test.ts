import { test } from "node:test";
import assert from "node:assert/strict";
import { checkSecret, nonce, proof, verifyProof } from "./secret.js";

void test("a proof verifies only with the same secret and parts", () => {
  const p = proof("0123456789abcdef", "a", "b");
  assert.ok(verifyProof("0123456789abcdef", p, "a", "b"));
  assert.ok(!verifyProof("0123456789abcdeX", p, "a", "b"));
  assert.ok(!verifyProof("0123456789abcdef", p, "a", "c"));
  assert.ok(!verifyProof("0123456789abcdef", p.slice(1), "a", "b"));
  assert.ok(!verifyProof("0123456789abcdef", "", "a", "b"));
});

void test("short secrets are refused with a message naming the setting", () => {
  assert.match(checkSecret("short") ?? "", /cluster\.secret/);
  assert.equal(checkSecret("0123456789abcdef"), null);
  assert.notEqual(nonce(), nonce());
});
