// The hang guard: it says a target lapsed at the first check that finds it not live, never
// before, and looks no more once stopped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../../test/kit/clock.js";
import { LIVE_CHECK_MS, watchTarget } from "./hang-guard.js";

void test("lapses at the first check that finds the target down; stop() ends the checks", async () => {
  const clock = new FakeClock();
  let live = true;
  let checks = 0;
  const g = watchTarget(() => (checks++, live), clock);
  clock.advance(LIVE_CHECK_MS * 3);
  assert.equal(g.hasLapsed(), false);
  assert.equal(checks, 3);
  live = false;
  clock.advance(LIVE_CHECK_MS);
  assert.equal(g.hasLapsed(), true);
  await g.lapsed;
  clock.advance(LIVE_CHECK_MS * 3);
  assert.equal(checks, 4, "no checks after it lapsed");

  const h = watchTarget(() => (checks++, false), clock);
  h.stop();
  clock.advance(LIVE_CHECK_MS * 3);
  assert.equal(h.hasLapsed(), false);
  assert.equal(checks, 4);
});
