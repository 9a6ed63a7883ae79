import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../../test/kit/clock.js";
import { AnswerCache } from "./cache.js";

void test("an entry is a hit until its lifetime ends, then a miss", () => {
  const clock = new FakeClock();
  const c = new AnswerCache<string | null>(clock, 10);
  c.set("a", "yes", 1000);
  c.set("n", null, 100);
  assert.deepEqual(c.get("a"), { value: "yes" });
  // A cached null is an answer (a negative one), not a miss.
  assert.deepEqual(c.get("n"), { value: null });
  clock.advance(99);
  assert.deepEqual(c.get("n"), { value: null });
  clock.advance(1);
  assert.equal(c.get("n"), undefined);
  assert.deepEqual(c.get("a"), { value: "yes" });
  clock.advance(900);
  assert.equal(c.get("a"), undefined);
  assert.equal(c.size, 0);
});

void test("the least recently used entry goes when the cache is full", () => {
  const clock = new FakeClock();
  const c = new AnswerCache<number>(clock, 2);
  c.set("a", 1, 1000);
  c.set("b", 2, 1000);
  assert.deepEqual(c.get("a"), { value: 1 }); // a is now the most recent
  c.set("c", 3, 1000);
  assert.equal(c.size, 2);
  assert.equal(c.get("b"), undefined);
  assert.deepEqual(c.get("a"), { value: 1 });
  assert.deepEqual(c.get("c"), { value: 3 });
});

void test("a zero lifetime or zero size keeps nothing, and a new answer replaces the old", () => {
  const clock = new FakeClock();
  const c = new AnswerCache<number>(clock, 2);
  c.set("a", 1, 1000);
  c.set("a", 2, 0);
  assert.equal(c.get("a"), undefined);
  c.set("b", 1, 1000);
  c.set("b", 2, 1000);
  assert.deepEqual(c.get("b"), { value: 2 });
  const none = new AnswerCache<number>(clock, 0);
  none.set("a", 1, 1000);
  assert.equal(none.get("a"), undefined);
});
