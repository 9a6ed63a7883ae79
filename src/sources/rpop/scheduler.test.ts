// The RPOP schedule on a fake clock: intervals, the concurrency bound, "more" polls at once,
// exponential capped back-off for failing hosts (shared by their entries) and failing entries,
// the longer back-off for refused credentials (logged as a problem), entries added and removed,
// and entries stored elsewhere in a cluster.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../../test/kit/clock.js";
import { memoryLogSink } from "../../../test/kit/log.js";
import type { PollOutcome } from "./poll.js";
import { backoff, createRpopScheduler } from "./scheduler.js";
import type { RpopEntry } from "./store.js";

const entry = (id: string, host = "pop.remote.test", intervalSeconds = 60): RpopEntry => ({
  id,
  account: `a${id}@example.test`,
  host,
  port: 110,
  tls: "none",
  tlsVerify: true,
  user: "u",
  password: "p",
  apop: false,
  keep: true,
  intervalSeconds,
  createdAt: 0,
});
const OK: PollOutcome = { kind: "ok", fetched: 0, deleted: 0, skipped: 0, more: false };
const fail = (fault: "host" | "auth" | "entry" | "submit"): PollOutcome => ({
  kind: "failed",
  fault,
  error: "x",
  fetched: 0,
});

/** Lets the promise chains of finished polls run (no timers involved). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

function harness(
  entries: RpopEntry[],
  answer: (e: RpopEntry, n: number) => PollOutcome,
  o: { max?: number; owns?: (a: string) => Promise<boolean> } = {},
) {
  const clock = new FakeClock(0);
  const logs = memoryLogSink();
  const polls: { id: string; at: number }[] = [];
  const list = [...entries];
  let inFlight = 0;
  let peak = 0;
  const held: (() => void)[] = [];
  let hold = false;
  const sched = createRpopScheduler({
    store: { list: () => Promise.resolve([...list]) },
    clock,
    poll: async (e) => {
      polls.push({ id: e.id, at: clock.now() });
      inFlight++;
      peak = Math.max(peak, inFlight);
      if (hold) await new Promise<void>((r) => held.push(r));
      inFlight--;
      return answer(e, polls.filter((p) => p.id === e.id).length);
    },
    ...(o.owns !== undefined ? { owns: o.owns } : {}),
    maxConcurrent: o.max ?? 4,
    minIntervalMs: 30_000,
    backoffMs: 60_000,
    maxBackoffMs: 600_000,
    authBackoffMs: 300_000,
    refreshMs: 3_600_000,
    log: logs.for("RPOP"),
  });
  return {
    clock,
    logs,
    polls,
    list,
    sched,
    peak: () => peak,
    hold: (on: boolean) => (hold = on),
    releaseAll: () => held.splice(0).forEach((r) => r()),
    async advance(ms: number) {
      // Step in small pieces so the polls' promise chains run between timers.
      for (let t = 0; t < ms; t += 1000) {
        await settle();
        clock.advance(Math.min(1000, ms - t));
        await settle();
      }
    },
  };
}

void test("backoff doubles from the base, is capped, and is never shorter than the interval", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => backoff(n, 60_000, 600_000, 0)),
    [60_000, 120_000, 240_000, 480_000, 600_000, 600_000],
  );
  assert.equal(backoff(1, 60_000, 600_000, 300_000), 300_000);
  assert.equal(backoff(1000, 60_000, 600_000, 0), 600_000);
});

void test("entries are polled at once, then every interval (at least minIntervalSeconds)", async () => {
  const h = harness([entry("1", "a.test", 120), entry("2", "b.test", 10)], () => OK);
  await h.sched.start();
  await settle();
  assert.deepEqual(
    h.polls.map((p) => [p.id, p.at]),
    [
      ["1", 0],
      ["2", 0],
    ],
  );
  await h.advance(240_000);
  // 2's interval of 10 s is raised to the 30 s minimum.
  assert.deepEqual(
    h.polls.filter((p) => p.id === "1").map((p) => p.at),
    [0, 120_000, 240_000],
  );
  assert.deepEqual(
    h.polls.filter((p) => p.id === "2").map((p) => p.at),
    [0, 30_000, 60_000, 90_000, 120_000, 150_000, 180_000, 210_000, 240_000],
  );
  await h.sched.stop();
});

void test("at most maxConcurrent polls run; the others start as slots free up", async () => {
  const h = harness(
    ["1", "2", "3", "4", "5"].map((id) => entry(id, `h${id}.test`)),
    () => OK,
    { max: 2 },
  );
  h.hold(true);
  await h.sched.start();
  await settle();
  assert.equal(h.polls.length, 2);
  h.hold(false);
  h.releaseAll();
  await settle();
  await settle();
  assert.equal(h.polls.length, 5);
  assert.equal(h.peak(), 2);
  await h.sched.stop();
});

void test("a poll that left messages behind is followed by another at once", async () => {
  const h = harness([entry("1")], (_e, n) => (n < 3 ? { ...OK, fetched: 100, more: true } : OK));
  await h.sched.start();
  await h.advance(1000);
  assert.deepEqual(
    h.polls.map((p) => p.at),
    [0, 0, 0],
  );
  await h.advance(60_000);
  assert.equal(h.polls.length, 4);
  await h.sched.stop();
});

void test("a failing host backs off exponentially, capped, for all its entries; success resets it", async () => {
  let down = true;
  const h = harness(
    [entry("1", "dead.test", 30), entry("2", "dead.test", 30), entry("3", "fine.test", 30)],
    (e) => (e.host === "dead.test" && down ? fail("host") : OK),
  );
  await h.sched.start();
  await h.advance(2_200_000);
  const dead = h.polls.filter((p) => p.id !== "3").map((p) => p.at);
  // Both entries tried at first; then one attempt per back-off: +60, +120, +240, +480, +600, +600…
  const gaps = dead
    .slice(1)
    .map((t, i) => t - dead[i]!)
    .filter((g) => g > 0);
  assert.deepEqual(
    gaps.slice(0, 6),
    [60_000, 120_000, 240_000, 480_000, 600_000, 600_000],
    JSON.stringify(dead),
  );
  // The healthy host kept its schedule meanwhile.
  assert.equal(h.polls.filter((p) => p.id === "3").length, Math.floor(2_200_000 / 30_000) + 1);
  assert.ok(
    h.logs.records.some((r) => r.text === "remote host failing, backing off" && r.fields["failures"] === 5),
  );
  down = false;
  const before = h.polls.length;
  await h.advance(600_000);
  const after = h.polls.filter((p, i) => i >= before && p.id === "1").map((p) => p.at);
  assert.ok(after.length >= 2, JSON.stringify(after));
  assert.equal(after[1]! - after[0]!, 30_000, "back to the interval after a success");
  await h.sched.stop();
});

void test("refused credentials back off from authBackoffSeconds and are logged as problems", async () => {
  const h = harness([entry("1", "x.test", 60)], () => fail("auth"));
  await h.sched.start();
  await h.advance(1_000_000);
  assert.deepEqual(
    h.polls.map((p) => p.at),
    [0, 300_000, 900_000],
  );
  const problems = h.logs.records.filter((r) => r.text === "remote login refused, backing off");
  assert.equal(problems.length, 3);
  assert.equal(problems[0]!.level, 3);
  assert.equal(h.sched.status("1")?.failures, 3);
  await h.sched.stop();
});

void test("a failing entry (submit refused) backs off alone", async () => {
  const h = harness([entry("1", "same.test", 30), entry("2", "same.test", 30)], (e) =>
    e.id === "1" ? fail("submit") : OK,
  );
  await h.sched.start();
  await h.advance(300_000);
  assert.deepEqual(
    h.polls.filter((p) => p.id === "1").map((p) => p.at),
    [0, 60_000, 180_000],
  );
  assert.equal(h.polls.filter((p) => p.id === "2").length, 11);
  await h.sched.stop();
});

void test("added entries are polled after refresh; removed ones are not polled again; others' accounts are skipped", async () => {
  const h = harness([entry("1")], () => OK, { owns: (a) => Promise.resolve(a !== "a3@example.test") });
  await h.sched.start();
  await settle();
  h.list.push(entry("2"), entry("3"));
  await h.sched.refresh();
  await settle();
  assert.deepEqual(
    h.polls.map((p) => p.id),
    ["1", "2"],
  );
  h.list.splice(0, 1);
  await h.sched.refresh();
  await h.advance(120_000);
  assert.ok(!h.polls.slice(2).some((p) => p.id === "1"), JSON.stringify(h.polls));
  assert.ok(h.polls.slice(2).some((p) => p.id === "2"));
  assert.ok(!h.polls.some((p) => p.id === "3"), "not stored here");
  await h.sched.stop();
});
