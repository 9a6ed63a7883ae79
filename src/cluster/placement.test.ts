// Placement: static clusters send an account's mail to its live home backend only; dynamic ones
// to the live lease owner, else to the first live backend in rendezvous order. Frontends and
// dead members are never targets; state trouble is a (temporary) none.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../test/kit/clock.js";
import type { MemberView } from "./membership.js";
import { createPlacement, type ClusterKind, type Target } from "./placement.js";
import { rendezvousOrder } from "./rendezvous.js";
import { openSqliteClusterState } from "./sqlite-state.js";
import type { Role } from "./state.js";

const view = (id: string, role: Role): MemberView => ({
  id,
  role,
  smtp: "127.0.0.1:2525",
  submissions: "",
  http: "127.0.0.1:8080",
  channel: role === "backend" ? `127.0.0.1:24${id.slice(1)}` : null,
  submitMessages: "default",
  startedAt: 0,
  lastHeartbeat: 0,
  queueSize: 0,
  left: false,
  up: true,
});

function setup(t: TestContext, kind: ClusterKind, selfId = "f1") {
  const clock = new FakeClock();
  const state = openSqliteClusterState(":memory:", clock);
  t.after(() => state.close());
  let live: MemberView[] = [
    view("f1", "frontend"),
    view("b1", "backend"),
    view("b2", "backend"),
    view("b3", "backend"),
  ];
  const membership = { live: (role?: Role) => live.filter((m) => role === undefined || m.role === role) };
  const placement = createPlacement({ kind, state, membership, selfId, clock });
  const kill = (id: string) => (live = live.filter((m) => m.id !== id));
  return { clock, state, placement, kill };
}

const nodeOf = (t: Target): string => {
  assert.ok("node" in t, `expected a node, got ${JSON.stringify(t)}`);
  return t.node.id;
};
const noneOf = (t: Target): string => {
  assert.ok("none" in t, `expected none, got ${JSON.stringify(t)}`);
  return t.none;
};

void test("placement static: the live home backend, none when there is no home or it is down", async (t) => {
  const { state, placement, kill } = setup(t, "static");
  assert.match(noneOf(await placement.targetFor("u@example.test")), /no home backend/);
  await state.setHome("u@example.test", "b2");
  const target = await placement.targetFor("U@Example.test");
  assert.equal(nodeOf(target), "b2");
  assert.equal("node" in target && target.local, false);
  assert.equal("node" in target && target.node.channel, "127.0.0.1:242");
  kill("b2");
  assert.match(
    noneOf(await placement.targetFor("u@example.test")),
    /home backend b2 of u@example.test is down/,
  );
  // A home that is not a backend (misconfigured) is not a target either.
  await state.setHome("u@example.test", "f1");
  assert.match(noneOf(await placement.targetFor("u@example.test")), /is down/);
});

void test("placement static: chooseHome picks by rendezvous over live backends only", (t) => {
  const { placement, kill } = setup(t, "static");
  const expected = rendezvousOrder("new@example.test", ["b1", "b2", "b3"]);
  assert.equal(nodeOf(placement.chooseHome("NEW@example.test")), expected[0]);
  kill(expected[0]!);
  assert.equal(nodeOf(placement.chooseHome("new@example.test")), expected[1]);
  kill(expected[1]!);
  kill(expected[2]!);
  assert.match(noneOf(placement.chooseHome("new@example.test")), /no live backend/);
});

void test("placement dynamic: the live lease owner, else the rendezvous choice", async (t) => {
  const { clock, state, placement, kill } = setup(t, "dynamic", "b1");
  const order = rendezvousOrder("u@example.test", ["b1", "b2", "b3"]);
  // No lease: every node computes the same first choice.
  const free = await placement.targetFor("u@example.test");
  assert.equal(nodeOf(free), order[0]);
  assert.equal("node" in free && free.local, order[0] === "b1");

  // A lease held by the last choice wins over rendezvous.
  const owner = order[2]!;
  await state.acquireLease("u@example.test", owner, clock.now(), 10_000);
  assert.equal(nodeOf(await placement.targetFor("u@example.test")), owner);

  // Owner dead (lease not yet expired): the rendezvous choice among the living.
  kill(owner);
  assert.equal(nodeOf(await placement.targetFor("u@example.test")), order[0]);

  // Lease expired, owner alive again is irrelevant here: the rendezvous choice.
  clock.advance(10_000);
  assert.equal(await state.leaseOf("u@example.test", clock.now()), null);
  assert.equal(nodeOf(await placement.targetFor("u@example.test")), order[0]);
});

void test("placement dynamic: a lease owned by this node is local; frontends are never targets", async (t) => {
  const { clock, state, placement, kill } = setup(t, "dynamic", "b3");
  await state.acquireLease("u@example.test", "b3", clock.now(), 10_000);
  const mine = await placement.targetFor("u@example.test");
  assert.equal(nodeOf(mine), "b3");
  assert.equal("node" in mine && mine.local, true);
  kill("b1");
  kill("b2");
  kill("b3");
  assert.match(noneOf(await placement.targetFor("u@example.test")), /no live backend/);
});

void test("placement: state trouble is a none, never a rejection", async (t) => {
  const { state, placement } = setup(t, "static");
  await state.close();
  assert.match(noneOf(await placement.targetFor("u@example.test")), /cluster state unavailable/);
});
