// Queue ids: order, uniqueness, file-name safety.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createIdGenerator, QUEUE_ID } from "./ids.js";
import { FakeClock } from "../../test/kit/clock.js";
import { cryptoRandom } from "../world/random.js";

void test("ids sort by arrival, are unique and file-name safe", () => {
  const clock = new FakeClock();
  const next = createIdGenerator(clock, cryptoRandom);
  const ids: string[] = [];
  for (let i = 0; i < 2000; i++) {
    ids.push(next());
    if (i % 100 === 0) clock.advance(1);
  }
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  for (const id of ids) assert.match(id, QUEUE_ID);
});

void test("a clock stepping back does not break the order", () => {
  let t = 5_000_000;
  const next = createIdGenerator(
    { now: () => t, setTimeout: () => ({ cancel: () => undefined }) },
    cryptoRandom,
  );
  const a = next();
  t -= 1000;
  const b = next();
  assert.ok(a < b);
});

void test("two generators (a restart) with the same clock differ by their random tail", () => {
  const clock = new FakeClock();
  const a = createIdGenerator(clock, cryptoRandom)();
  const b = createIdGenerator(clock, cryptoRandom)();
  assert.equal(a.slice(0, 13), b.slice(0, 13));
  assert.notEqual(a, b);
});
