// Login throttling: free failures, then locks that double up to the maximum, per name and per
// address separately, cleared by a success; the table stays bounded under a flood of names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../../test/kit/clock.js";
import { createLoginThrottle } from "./throttle.js";

const make = (clock: FakeClock, maxEntries?: number) =>
  createLoginThrottle({
    clock,
    freeFailures: 3,
    freeFailuresPerAddress: 10,
    baseMs: 1000,
    maxMs: 8000,
    ...(maxEntries !== undefined ? { maxEntries } : {}),
  });

void test("a name is locked after its free failures, each further failure doubling the lock up to the maximum", () => {
  const clock = new FakeClock();
  const th = make(clock);
  th.failed("admin", "10.0.0.1");
  th.failed("admin", "10.0.0.2");
  assert.equal(th.wait("admin", "10.0.0.3"), 0, "two failures are free");
  th.failed("admin", "10.0.0.3");
  assert.equal(th.wait("admin", "10.0.0.9"), 1000, "third: locked 1 s, from any address");
  assert.equal(th.wait("ADMIN ", "10.0.0.9"), 1000, "names compared as stored (trimmed, lower-case)");
  assert.equal(th.wait("other", "10.0.0.9"), 0, "other names are not locked");
  const locks: number[] = [];
  for (let i = 0; i < 5; i++) {
    clock.advance(th.wait("admin", "x"));
    th.failed("admin", "x");
    locks.push(th.wait("admin", "x"));
  }
  assert.deepEqual(locks, [2000, 4000, 8000, 8000, 8000]);
});

void test("an address is locked after its own free failures, whatever names it tries", () => {
  const clock = new FakeClock();
  const th = make(clock);
  for (let i = 0; i < 9; i++) th.failed(`user${i}`, "192.0.2.7");
  assert.equal(th.wait("fresh", "192.0.2.7"), 0);
  th.failed("user9", "192.0.2.7");
  assert.equal(th.wait("fresh", "192.0.2.7"), 1000);
  assert.equal(th.wait("fresh", "192.0.2.8"), 0);
});

void test("a success clears the name and the address", () => {
  const clock = new FakeClock();
  const th = make(clock);
  for (let i = 0; i < 3; i++) th.failed("admin", "a");
  assert.ok(th.wait("admin", "a") > 0);
  clock.advance(1000);
  th.succeeded("admin", "a");
  th.failed("admin", "a");
  assert.equal(th.wait("admin", "a"), 0, "counting starts again");
});

void test("the table is bounded: a flood of names evicts the oldest entries", () => {
  const clock = new FakeClock();
  const th = make(clock, 100);
  for (let i = 0; i < 3; i++) th.failed("victim", `addr${i}`);
  assert.ok(th.wait("victim", "z") > 0);
  for (let i = 0; i < 200; i++) th.failed(`flood${i}`, `f${i}`);
  assert.equal(th.wait("victim", "z"), 0, "evicted (bounded memory beats a perfect memory)");
});
