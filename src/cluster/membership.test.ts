// Membership on the fake clock: a silent member goes down after downAfterMs (seen within one
// more beat), a member that leaves is down at the next refresh, state errors are logged and
// the heartbeat loop survives them, and a lost membership record is re-registered.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../test/kit/clock.js";
import { memoryLogSink } from "../../test/kit/log.js";
import { startMembership, type Membership } from "./membership.js";
import { openSqliteClusterState } from "./sqlite-state.js";
import type { ClusterState, MemberInfo } from "./state.js";

const HB = 1000;
const DOWN = 5000;

const info = (id: string, role: MemberInfo["role"], startedAt: number): MemberInfo => ({
  id,
  role,
  smtp: `127.0.0.1:${id === "a" ? 2525 : 2526}`,
  http: "127.0.0.1:8080",
  channel: role === "backend" ? "127.0.0.1:2424" : null,
  submitMessages: "default",
  startedAt,
});

/** A state whose membership calls fail while `broken` is set (a locked file, a database restart). */
function breakable(state: ClusterState): ClusterState & { broken: boolean } {
  const fail = () => Promise.reject(new Error("database is locked"));
  const wrapper: ClusterState & { broken: boolean } = {
    ...state,
    broken: false,
    register: (m) => (wrapper.broken ? fail() : state.register(m)),
    heartbeat: (id, at, q) => (wrapper.broken ? fail() : state.heartbeat(id, at, q)),
    leave: (id) => (wrapper.broken ? fail() : state.leave(id)),
    members: () => (wrapper.broken ? fail() : state.members()),
  };
  return wrapper;
}

function setup(t: TestContext) {
  const clock = new FakeClock();
  const raw = openSqliteClusterState(":memory:", clock);
  const state = breakable(raw);
  const sink = memoryLogSink();
  const started: Membership[] = [];
  const start = async (id: string, role: MemberInfo["role"] = "backend", queueSize = () => 0) => {
    const m = await startMembership({
      state,
      self: info(id, role, clock.now()),
      clock,
      heartbeatMs: HB,
      downAfterMs: DOWN,
      log: sink.for("CLUSTER"),
      queueSize,
    });
    started.push(m);
    return m;
  };
  /** One heartbeat period, and the beats it started finished. */
  const beat = async () => {
    clock.advance(HB);
    await Promise.all(started.map((m) => m.settled()));
  };
  t.after(async () => {
    state.broken = false;
    for (const m of started) await m.stop();
    await raw.close();
  });
  return { clock, raw, state, sink, start, beat };
}

const ids = (ms: readonly { id: string }[]) => ms.map((m) => m.id);

void test("membership: a member whose heartbeat stops is down after downAfterMs, within one beat", async (t) => {
  const { clock, raw, start, beat } = setup(t);
  const t0 = clock.now();
  // b registers and then goes silent (a killed process).
  await raw.register(info("b", "backend", t0));
  const a = await start("a", "frontend");
  assert.deepEqual(ids(a.live()), ["a", "b"]);
  assert.deepEqual(ids(a.live("backend")), ["b"]);
  assert.deepEqual(ids(a.live("frontend")), ["a"]);
  const seen: string[][] = [];
  a.onChange((ms) => seen.push(ids(ms.filter((m) => m.up))));

  while (clock.now() - t0 < DOWN) {
    await beat();
    assert.ok(ids(a.live()).includes("b"), `b still up at +${clock.now() - t0}ms`);
  }
  assert.deepEqual(seen, [], "nothing changed while b was within downAfterMs");
  await beat();
  assert.equal(clock.now() - t0, DOWN + HB);
  assert.deepEqual(ids(a.live()), ["a"], "down within downAfterMs + one beat");
  assert.deepEqual(seen, [["a"]]);
  const b = a.all().find((m) => m.id === "b");
  assert.equal(b?.up, false);
  assert.equal(b?.left, false);
  assert.equal(b?.lastHeartbeat, t0);
  // a itself keeps beating.
  assert.equal(a.all().find((m) => m.id === "a")?.lastHeartbeat, clock.now());
});

void test("membership: heartbeats carry the queue size; a member that leaves is down at once", async (t) => {
  const { clock, start, beat } = setup(t);
  let queued = 3;
  const a = await start("a", "frontend", () => queued);
  const b = await start("b");
  queued = 9;
  await beat();
  assert.equal(b.all().find((m) => m.id === "a")?.queueSize, 9);
  assert.deepEqual(ids(a.live()), ["a", "b"]);
  const changes: string[][] = [];
  a.onChange((ms) => changes.push(ids(ms.filter((m) => m.up))));

  await b.stop();
  const stoppedAt = clock.now();
  await a.refresh();
  assert.equal(clock.now(), stoppedAt, "no time passed");
  assert.deepEqual(ids(a.live()), ["a"]);
  assert.equal(a.all().find((m) => m.id === "b")?.left, true);
  assert.deepEqual(changes, [["a"]]);
  // b's timers are gone: only a's heartbeat and the state's change poll (a subscribes) remain.
  assert.equal(clock.pending(), 2);
  await b.stop();
});

void test("membership: state errors are logged once, the loop keeps beating and recovers", async (t) => {
  const { clock, raw, state, sink, start, beat } = setup(t);
  const a = await start("a");
  state.broken = true;
  for (let i = 0; i < 4; i++) await beat();
  assert.equal(clock.pending(), 2, "the heartbeat timer (and the change poll) are still scheduled");
  const problems = sink.records.filter((r) => r.tag === "CLUSTER" && r.level === 3);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.text, /unavailable/);
  assert.equal(problems[0]!.fields["error"], "database is locked");
  assert.equal(sink.records.filter((r) => r.level === 4).length, 3);

  state.broken = false;
  await raw.register(info("b", "backend", clock.now()));
  await beat();
  assert.deepEqual(ids(a.live()), ["a", "b"]);
  assert.ok(sink.records.some((r) => /reachable again/.test(r.text)));
  assert.equal((await raw.members()).find((m) => m.id === "a")?.lastHeartbeat, clock.now());
});

void test("membership: starting while the state is down registers on a later beat", async (t) => {
  const { raw, state, start, beat } = setup(t);
  state.broken = true;
  const a = await start("a");
  assert.deepEqual(a.all(), []);
  state.broken = false;
  await beat();
  assert.deepEqual(ids(a.live()), ["a"]);
  assert.deepEqual(ids(await raw.members()), ["a"]);
});

void test("membership: a record marked left by someone else is registered again", async (t) => {
  const { raw, start, beat, sink } = setup(t);
  const a = await start("a");
  await raw.leave("a");
  await beat();
  assert.deepEqual(ids(a.live()), ["a"]);
  assert.equal((await raw.members())[0]?.left, false);
  assert.ok(sink.records.some((r) => /registered again/.test(r.text)));
  await a.stop();
  assert.equal((await raw.members())[0]?.left, true);
});

void test("membership: a member joining and a setting changing are seen through subscribe(), before the next beat", async (t) => {
  const { clock, raw, start } = setup(t);
  const a = await start("a", "frontend");
  assert.deepEqual(ids(a.live()), ["a"]);
  assert.deepEqual([...a.settings()], []);
  const seenSettings: string[] = [];
  a.onSettingsChange((s) => seenSettings.push(s.get("cluster.submitMessages") ?? "-"));
  await raw.register(info("b", "backend", clock.now()));
  await raw.setSetting("cluster.submitMessages", "Remotely");
  // The SQLite adapter polls its change counters every 250 ms; a beat is HB away.
  assert.ok(HB > 500);
  const joinedBy = clock.now() + 500;
  while (!ids(a.live()).includes("b") || a.settings().get("cluster.submitMessages") !== "Remotely") {
    assert.ok(clock.now() < joinedBy, "seen within two change polls");
    clock.advance(50);
    await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(seenSettings, ["Remotely"]);
  await raw.setSetting("cluster.submitMessages", null);
  clock.advance(250);
  for (let i = 0; i < 20 && a.settings().size > 0; i++) await new Promise((r) => setImmediate(r));
  assert.equal(a.settings().size, 0, "a removed setting is gone from the view");
  assert.deepEqual(seenSettings, ["Remotely", "-"]);
});

void test("membership: while the state is unreachable the members up then stay up; once it answers, heartbeats judge again", async (t) => {
  const { clock, raw, state, start, beat } = setup(t);
  await raw.register(info("b", "backend", clock.now()));
  const a = await start("a", "frontend");
  assert.deepEqual(ids(a.live()), ["a", "b"]);
  state.broken = true;
  const brokenAt = clock.now();
  while (clock.now() - brokenAt < 3 * DOWN) await beat();
  assert.deepEqual(ids(a.live()), ["a", "b"], "an unreadable heartbeat is no evidence of a dead member");
  state.broken = false;
  await beat();
  // b really stopped beating at the start: now that its heartbeat can be read, it is down.
  assert.deepEqual(ids(a.live()), ["a"]);
});
