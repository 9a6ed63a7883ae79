// The retry schedule: doubling, cap, jitter bounds, expiry, warning thresholds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { expiresAt, isExpired, nextAttemptAt, retryDelayMs, retryPolicy, warningsCrossed } from "./retry.js";
import { settingsSchema } from "../config/settings.js";
import type { Random } from "../world/random.js";

const zero: Random = { int: () => 0, bytes: (n) => Buffer.alloc(n) };
const top: Random = { int: (max) => max - 1, bytes: (n) => Buffer.alloc(n) };
const q = settingsSchema.parse({
  queue: {
    firstRetrySeconds: 60,
    maxRetrySeconds: 1800,
    maxLifetimeSeconds: 86400,
    delayWarningSeconds: [7200, 3600, 3600],
  },
}).queue;
const p = retryPolicy(q);

void test("delays start at firstRetry and double up to maxRetry", () => {
  const got = [1, 2, 3, 4, 5, 6, 7, 20, 1000].map((n) => retryDelayMs(p, n, zero) / 1000);
  assert.deepEqual(got, [60, 120, 240, 480, 960, 1800, 1800, 1800, 1800]);
});

void test("jitter adds at most 10% and never shortens the delay", () => {
  assert.equal(retryDelayMs(p, 1, top), 60_000 + 5_999);
  assert.equal(retryDelayMs(p, 10, top), 1_800_000 + 179_999);
  assert.ok(retryDelayMs(p, 1, zero) >= 60_000);
});

void test("next attempt never lies past expiry; expiry is arrival + maxLifetime", () => {
  const arrival = 1_000_000;
  assert.equal(expiresAt(p, arrival), arrival + 86_400_000);
  assert.equal(nextAttemptAt(p, arrival, 1, arrival, zero), arrival + 60_000);
  const late = arrival + 86_400_000 - 10_000;
  assert.equal(nextAttemptAt(p, arrival, 30, late, zero), arrival + 86_400_000);
  assert.equal(isExpired(p, arrival, arrival + 86_399_999), false);
  assert.equal(isExpired(p, arrival, arrival + 86_400_000), true);
});

void test("warning thresholds are sorted, de-duplicated and counted", () => {
  assert.deepEqual(p.delayWarningsMs, [3_600_000, 7_200_000]);
  const a = 0;
  assert.equal(warningsCrossed(p, a, 3_599_999), 0);
  assert.equal(warningsCrossed(p, a, 3_600_000), 1);
  assert.equal(warningsCrossed(p, a, 9_000_000), 2);
});

void test("maxRetry below firstRetry is lifted to firstRetry", () => {
  const p2 = retryPolicy({ ...q, firstRetrySeconds: 300, maxRetrySeconds: 60 });
  assert.equal(retryDelayMs(p2, 5, zero), 300_000);
});
