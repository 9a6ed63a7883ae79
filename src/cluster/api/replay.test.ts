// The replay guard: a nonce is refused while its request could still pass the time check and
// forgotten only after; memory is bounded, and when full it refuses rather than forgets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createReplayGuard } from "./replay.js";

const T0 = 1_700_000_000_000;

void test("a nonce is accepted once and refused for as long as its time stays in the window", () => {
  const g = createReplayGuard(15_000);
  assert.equal(g.admit("a", T0, T0), "fresh");
  for (const later of [1, 5_000, 15_000, 15_999]) assert.equal(g.admit("a", T0, T0 + later), "replayed");
  // Past the window the time check refuses it; the guard has let it go.
  assert.equal(g.size(), 1);
  g.admit("b", T0 + 17_000, T0 + 17_000);
  assert.equal(g.size(), 1, "the old second's bucket is dropped whole");
});

void test("a request dated ahead is remembered until its own time leaves the window", () => {
  const g = createReplayGuard(15_000);
  assert.equal(g.admit("ahead", T0 + 5_000, T0), "fresh");
  assert.equal(g.admit("ahead", T0 + 5_000, T0 + 19_999), "replayed");
});

void test("full: refuses new nonces instead of forgetting held ones, and frees room as they expire", () => {
  const g = createReplayGuard(15_000, 3);
  for (const n of ["a", "b", "c"]) assert.equal(g.admit(n, T0, T0), "fresh");
  assert.equal(g.admit("d", T0, T0 + 1), "full");
  assert.equal(g.admit("a", T0, T0 + 1), "replayed", "still remembered while full");
  assert.equal(
    g.admit("d", T0 + 16_000, T0 + 16_000),
    "fresh",
    "room again once T0's second left the window",
  );
  assert.equal(g.size(), 1);
});
