// The log ring and the tee: bounded, filtered by tag, level and text, and fed exactly what the
// sink's levels let through.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../test/kit/clock.js";
import { memoryLogSink } from "../../test/kit/log.js";
import { createLogRing, teeLogSink } from "./ring.js";

void test("the ring keeps the newest records, and filters by tag, level, text and position", () => {
  const ring = createLogRing(5);
  for (let i = 1; i <= 8; i++)
    ring.push({
      at: 0,
      level: i % 2 === 0 ? 2 : 5,
      tag: i % 2 === 0 ? "QUEUE" : "SUBMIT",
      session: i,
      context: "",
      text: `record ${i}`,
      fields: { n: i },
    });
  const all = ring.query({});
  assert.equal(all.last, 8);
  assert.deepEqual(
    all.records.map((r) => r.seq),
    [4, 5, 6, 7, 8],
  );
  assert.match(all.records[0]!.line, /^00:00:00\.000 2 QUEUE-000004\(\) record 4 n=4$/);
  assert.deepEqual(
    ring.query({ tags: ["SUBMIT"] }).records.map((r) => r.seq),
    [5, 7],
  );
  assert.deepEqual(
    ring.query({ maxLevel: 2 }).records.map((r) => r.seq),
    [4, 6, 8],
  );
  assert.deepEqual(
    ring.query({ contains: "RECORD 7" }).records.map((r) => r.seq),
    [7],
  );
  assert.deepEqual(
    ring.query({ after: 6 }).records.map((r) => r.seq),
    [7, 8],
  );
  assert.deepEqual(
    ring.query({ limit: 2 }).records.map((r) => r.seq),
    [7, 8],
  );
});

void test("the tee writes to the sink and keeps in the ring only what the sink's level lets through", () => {
  const sink = memoryLogSink();
  const ring = createLogRing(100);
  const log = teeLogSink(sink, ring, new FakeClock());
  sink.setLevel("SUBMIT", 3);
  const submit = log.for("SUBMIT").with(12, "b1");
  submit.problem("kept", { to: "x@example.test" });
  submit.info("dropped");
  log.for("QUEUE").info("kept too");
  assert.deepEqual(
    sink.records.map((r) => r.text),
    ["kept", "kept too"],
  );
  assert.deepEqual(
    ring.query({}).records.map((r) => r.line.replace(/^\S+ /, "")),
    ["3 SUBMIT-000012(b1) kept to=x@example.test", "5 QUEUE-000000() kept too"],
  );
  // Raised live (as the Remote Submit Log setting does): the ring follows.
  log.setLevel("SUBMIT", 5);
  submit.info("now kept");
  assert.equal(ring.query({ tags: ["SUBMIT"] }).records.length, 2);
});
