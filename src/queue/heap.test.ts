// The timetable heap and the FIFO used by the scheduler.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WakeHeap } from "./heap.js";
import { Fifo } from "./fifo.js";

void test("the heap pops in time order", () => {
  const h = new WakeHeap<number>();
  const xs = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
  xs.forEach((x, i) => h.push(x, i));
  const out: number[] = [];
  for (let w = h.pop(); w !== undefined; w = h.pop()) out.push(w.at);
  assert.deepEqual(
    out,
    [...xs].sort((a, b) => a - b),
  );
});

void test("the fifo keeps order across compaction", () => {
  const f = new Fifo<number>();
  const out: number[] = [];
  for (let i = 0; i < 5000; i++) {
    f.push(i);
    if (i % 3 === 0) out.push(f.shift()!);
  }
  out.push(...f.drain());
  assert.deepEqual(
    out,
    Array.from({ length: 5000 }, (_, i) => i),
  );
  assert.equal(f.length, 0);
  assert.equal(f.shift(), undefined);
});
