import { test } from "node:test";
import assert from "node:assert/strict";
import { rfc5322Date } from "./date.js";

test("rfc5322Date formats UTC with day and month names", () => {
  assert.equal(rfc5322Date(Date.UTC(2026, 10, 28, 13, 5, 9)), "Sat, 28 Nov 2026 13:05:09 +0000");
  assert.equal(rfc5322Date(Date.UTC(2024, 1, 29, 0, 0, 0)), "Thu, 29 Feb 2024 00:00:00 +0000");
});
