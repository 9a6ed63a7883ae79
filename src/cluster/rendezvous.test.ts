// Rendezvous hashing: the same order everywhere, an even spread, and minimal movement when a
// node goes away (the property that keeps accounts on their backend through membership churn).
import { test } from "node:test";
import assert from "node:assert/strict";
import { rendezvousOrder } from "./rendezvous.js";

const NODES = ["b1", "b2", "b3", "b4", "b5"];
// sha256 of the keys below, worked out once; see the pinned assertion.
const PINNED = ["b2", "b3", "b1"];
const keys = Array.from({ length: 5000 }, (_, i) => `user${i}@example.test`);

void test("rendezvous: stable, independent of input order, every node once", () => {
  const a = rendezvousOrder("u@example.test", NODES);
  assert.deepEqual(rendezvousOrder("u@example.test", NODES), a);
  assert.deepEqual(rendezvousOrder("u@example.test", [...NODES].reverse()), a);
  assert.deepEqual(rendezvousOrder("u@example.test", [...NODES, "b3", "b1"]), a);
  assert.deepEqual([...a].sort(), NODES);
  assert.deepEqual(rendezvousOrder("u@example.test", []), []);
  // Pinned: a change of hash would move every account of a running cluster at upgrade time.
  assert.deepEqual(rendezvousOrder("u@example.test", ["b1", "b2", "b3"]), PINNED);
  // Different keys do get different orders.
  assert.ok(new Set(keys.slice(0, 50).map((k) => rendezvousOrder(k, NODES).join())).size > 10);
});

void test("rendezvous: keys spread evenly over the nodes", () => {
  const count = new Map<string, number>();
  for (const k of keys) {
    const first = rendezvousOrder(k, NODES)[0]!;
    count.set(first, (count.get(first) ?? 0) + 1);
  }
  assert.equal(count.size, NODES.length);
  for (const [node, n] of count) {
    // 1000 expected each; a binomial spread stays well within ±15%.
    assert.ok(n > 850 && n < 1150, `${node} got ${n} of ${keys.length}`);
  }
});

void test("rendezvous: removing a node moves only that node's keys, each to its second choice", () => {
  const without = NODES.filter((n) => n !== "b3");
  let moved = 0;
  for (const k of keys) {
    const before = rendezvousOrder(k, NODES);
    const after = rendezvousOrder(k, without);
    if (before[0] === "b3") {
      moved++;
      assert.equal(after[0], before[1]);
    } else {
      assert.equal(after[0], before[0], `${k} moved though its node stayed`);
    }
    assert.deepEqual(
      after,
      before.filter((n) => n !== "b3"),
    );
  }
  assert.ok(moved > 0);
  // Adding it back restores the original placement.
  for (const k of keys.slice(0, 200))
    assert.deepEqual(rendezvousOrder(k, [...without, "b3"]), rendezvousOrder(k, NODES));
});
