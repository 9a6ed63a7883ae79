// Bounded versions of the fault scenarios `npm run faults` runs at full size (bench/faults/),
// for those with no smaller test of their own elsewhere (see docs/OPERATIONS.md, "Faults and what
// survives them"): the data directory's disk full under load, a frontend killed with its disk
// lost under mixed load, and a dynamic owner stopped and continued, each asserting that nothing
// acknowledged is lost and that the scenario's own checks hold (no 5xx or half-written file on
// the full disk, a take-over of the lost frontend's spool, no store by the stopped owner after
// the take-over).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FULL, SCENARIOS, type Size } from "../../bench/faults/scenarios.js";

const small: Size = {
  ...FULL,
  messages: 160,
  sessions: 8,
  faultAt: 40,
  takeoverLeaseSeconds: 3,
  deliveryTimeoutMs: 60_000,
};

for (const name of ["disk-full", "frontend-disk-lost", "dynamic-owner-stop"]) {
  const s = SCENARIOS.find((x) => x.name === name)!;
  const root = process.getuid?.() === 0;
  test(
    `fault suite, bounded: ${s.title}: nothing acknowledged is lost`,
    // A tmpfs needs root to mount; without it the full-size suite cannot run this either.
    { skip: name === "disk-full" && !root ? "mounting a tmpfs needs root" : false },
    async (t) => {
      const out = await s.run(t, small, (line) => t.diagnostic(line));
      t.diagnostic(
        `${name}: sent=${out.sent} acked=${out.acked} delivered=${out.delivered} duplicated=${out.duplicated} ${out.notes.join("; ")}`,
      );
      assert.ok(out.acked >= (name === "disk-full" ? 1 : small.faultAt), `${out.acked} acknowledged`);
      assert.deepEqual(out.lost, []);
      assert.deepEqual(out.problems, []);
    },
  );
}
