// The lease keeper on the fake clock with two keepers (two backends) on one state: one owner at
// a time, renewal while in use, release when idle, a superseded owner stops owning, and stop()
// gives everything back.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../test/kit/clock.js";
import { memoryLogSink } from "../../test/kit/log.js";
import { createLeaseKeeper, type LeaseKeeper } from "./leases.js";
import { openSqliteClusterState } from "./sqlite-state.js";
import type { ClusterState } from "./state.js";

const LEASE = 15_000;
const IDLE = 30_000;
const STEP = LEASE / 3;

function setup(t: TestContext) {
  const clock = new FakeClock();
  const raw = openSqliteClusterState(":memory:", clock);
  const sink = memoryLogSink();
  let broken = false;
  // b1's view of the state can be cut off (a network partition, a stalled process).
  const cut: ClusterState = {
    ...raw,
    renewLease: (...a) => (broken ? Promise.reject(new Error("unreachable")) : raw.renewLease(...a)),
    acquireLease: (...a) => (broken ? Promise.reject(new Error("unreachable")) : raw.acquireLease(...a)),
  };
  const keepers: LeaseKeeper[] = [];
  const keeper = (nodeId: string, state: ClusterState = raw) => {
    const k = createLeaseKeeper({
      state,
      nodeId,
      clock,
      leaseMs: LEASE,
      idleMs: IDLE,
      log: sink.for("CLUSTER"),
    });
    keepers.push(k);
    return k;
  };
  const b1 = keeper("b1", cut);
  const b2 = keeper("b2");
  const step = async (ms = STEP) => {
    clock.advance(ms);
    await Promise.all(keepers.map((k) => k.settled()));
  };
  t.after(async () => {
    broken = false;
    for (const k of keepers) await k.stop();
    await raw.close();
  });
  return { clock, raw, sink, b1, b2, step, setBroken: (v: boolean) => (broken = v) };
}

void test("leases: one owner at a time, renewed while in use", async (t) => {
  const { clock, raw, b1, b2, step } = setup(t);
  const first = await b1.open("U@example.test");
  assert.ok(first.ok);
  assert.equal(b1.owns("u@example.test"), true);
  assert.deepEqual(await b2.open("u@example.test"), {
    ok: false,
    owner: "b1",
    reason: "account is open on b1",
  });
  assert.equal(b2.owns("u@example.test"), false);

  // Kept in use for several lease lengths: renewed, same token, never available to b2.
  for (let i = 0; i < 10; i++) {
    await step();
    const again = await b1.open("u@example.test");
    assert.deepEqual(again, { ok: true, token: first.token });
    assert.equal((await b2.open("u@example.test")).ok, false);
  }
  const lease = await raw.leaseOf("u@example.test", clock.now());
  assert.equal(lease?.owner, "b1");
  assert.ok(lease.expiresAt - clock.now() > LEASE / 2);
  assert.deepEqual(
    b1.held().map((h) => [h.account, h.token]),
    [["u@example.test", first.token]],
  );
});

void test("leases: an idle lease is released and the other backend can take the account", async (t) => {
  const { clock, raw, b1, b2, step } = setup(t);
  const first = await b1.open("u@example.test");
  assert.ok(first.ok);
  while (b1.held().length > 0) {
    assert.ok(clock.now() - b1.held()[0]!.lastUsed <= IDLE + STEP, "released within one round after idle");
    await step();
  }
  assert.equal(b1.owns("u@example.test"), false);
  assert.equal(await raw.leaseOf("u@example.test", clock.now()), null);
  const second = await b2.open("u@example.test");
  assert.ok(second.ok && second.token > first.token);
  assert.equal(clock.pending() > 0, true, "b2 renews its lease");
});

void test("leases: a superseded owner drops the lease, logs it and stops owning", async (t) => {
  const { clock, sink, b1, b2, step, setBroken } = setup(t);
  const first = await b1.open("u@example.test");
  assert.ok(first.ok);
  // b1 cannot reach the state: its lease runs out; from then it must not write.
  setBroken(true);
  const openedAt = clock.now();
  while (clock.now() - openedAt < LEASE) {
    assert.equal(b1.owns("u@example.test"), true);
    await step();
  }
  assert.equal(b1.owns("u@example.test"), false, "not owned once the lease ran out locally");
  assert.ok(sink.records.some((r) => /could not renew lease/.test(r.text)));
  const open = await b1.open("u@example.test");
  assert.equal(open.ok, false);
  assert.equal(!open.ok && open.owner, null);

  // b2 takes it over with a greater token.
  const taken = await b2.open("u@example.test");
  assert.ok(taken.ok && taken.token > first.token);

  // b1 comes back: its renewal is refused, it forgets the lease and says so.
  setBroken(false);
  await b1
    .open("u@example.test")
    .then((r) => assert.deepEqual(r, { ok: false, owner: "b2", reason: "account is open on b2" }));
  await step();
  assert.equal(b1.owns("u@example.test"), false);
  assert.deepEqual(b1.held(), []);
  assert.equal(b2.owns("u@example.test"), true);
});

void test("leases: a renewal refused because the token was superseded drops the lease", async (t) => {
  const { clock, raw, sink, b1, step } = setup(t);
  const first = await b1.open("u@example.test");
  assert.ok(first.ok);
  // Someone else took it behind b1's back (as after a long stall): release it in the state and take it.
  const current = await raw.leaseOf("u@example.test", clock.now());
  assert.ok(current !== null && (await raw.releaseLease(current)));
  await raw.acquireLease("u@example.test", "b2", clock.now(), LEASE);
  assert.equal(b1.owns("u@example.test"), true, "b1 does not know yet");
  await b1.open("u@example.test");
  await step();
  assert.equal(b1.owns("u@example.test"), false);
  const lost = sink.records.find((r) => /lease lost to another node/.test(r.text));
  assert.equal(lost?.fields["account"], "u@example.test");
  assert.equal(lost?.tag, "CLUSTER");
});

void test("leases: release and stop give the accounts back", async (t) => {
  const { clock, raw, b1 } = setup(t);
  for (const a of ["a@example.test", "b@example.test", "c@example.test"]) assert.ok((await b1.open(a)).ok);
  await b1.release("B@example.test");
  assert.deepEqual(
    (await raw.leases(clock.now())).map((l) => l.account),
    ["a@example.test", "c@example.test"],
  );
  await b1.stop();
  assert.deepEqual(await raw.leases(clock.now()), []);
  assert.deepEqual(b1.held(), []);
  assert.equal((await b1.open("a@example.test")).ok, false, "a stopped keeper opens nothing");
});
