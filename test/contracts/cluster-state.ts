// The ClusterState contract as tests, run against every adapter (sqlite-state.test.ts and
// pg-state.test.ts): members and heartbeats, settings, homes, the lease rules that keep an
// account on one backend (one winner per race, greater tokens on takeover, a superseded owner can
// neither renew nor release), and change subscription (what another connection changes is seen
// within a second; heartbeats and renewals are not changes). Not a test file itself: an
// adapter's test calls it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../kit/clock.js";
import {
  isLease,
  type ChangeKind,
  type ClusterState,
  type Lease,
  type LeaseHeld,
  type MemberInfo,
  type StateChange,
} from "../../src/cluster/state.js";

/** One empty store; connect() may be called several times (each: a new connection, as another process). */
export interface ContractStore {
  connect(): Promise<ClusterState>;
  /** Close what the test left open and remove the store. */
  dispose(): Promise<void>;
}

const TTL = 15_000;

const member = (id: string, over: Partial<MemberInfo> = {}): MemberInfo => ({
  id,
  role: "backend",
  smtp: `127.0.0.1:25${id.length}`,
  http: "127.0.0.1:8080",
  channel: "127.0.0.1:2424",
  submitMessages: "default",
  startedAt: Date.UTC(2026, 0, 1),
  ...over,
});

function lease(r: Lease | LeaseHeld): Lease {
  assert.ok(isLease(r), `expected a lease, got ${JSON.stringify(r)}`);
  return r;
}

function held(r: Lease | LeaseHeld): LeaseHeld {
  assert.ok(!isLease(r), `expected the lease to be held elsewhere, got ${JSON.stringify(r)}`);
  return r;
}

export function clusterStateContract(
  name: string,
  freshStore: (clock: FakeClock) => Promise<ContractStore>,
): void {
  const withStore = async (fn: (store: ContractStore, clock: FakeClock) => Promise<void>): Promise<void> => {
    const clock = new FakeClock();
    const store = await freshStore(clock);
    try {
      await fn(store, clock);
    } finally {
      await store.dispose();
    }
  };

  void test(`${name}: members register, heartbeat, leave and re-register`, () =>
    withStore(async (store, clock) => {
      const s = await store.connect();
      assert.deepEqual(await s.members(), []);
      await s.register(member("b1"));
      const a1 = member("a1", {
        role: "frontend",
        submissions: "127.0.0.1:2465",
        channel: null,
        submitMessages: "Locally for Others",
      });
      await s.register(a1);
      let all = await s.members();
      assert.deepEqual(
        all.map((m) => m.id),
        ["a1", "b1"],
      );
      assert.equal(all[1]?.submissions, "", "no submissions listener reads as empty");
      assert.deepEqual(all[0], { ...a1, lastHeartbeat: clock.now(), queueSize: 0, left: false });

      clock.advance(1000);
      assert.equal(await s.heartbeat("b1", clock.now(), 7), true);
      // An older heartbeat arriving late never moves the clock of a member back.
      assert.equal(await s.heartbeat("b1", clock.now() - 500, 8), true);
      all = await s.members();
      assert.equal(all[1]?.lastHeartbeat, clock.now());
      assert.equal(all[1]?.queueSize, 8);
      assert.equal(await s.heartbeat("nobody", clock.now(), 0), false);

      await s.leave("b1");
      assert.equal((await s.members())[1]?.left, true);
      assert.equal(await s.heartbeat("b1", clock.now(), 0), false, "a left member must register again");

      clock.advance(1000);
      await s.register(
        member("b1", { smtp: "127.0.0.1:2600", submissions: "127.0.0.1:2601", startedAt: clock.now() }),
      );
      const b1 = (await s.members())[1];
      assert.equal(b1?.left, false);
      assert.equal(b1?.smtp, "127.0.0.1:2600");
      assert.equal(b1?.submissions, "127.0.0.1:2601");
      assert.equal(b1?.startedAt, clock.now());
      assert.equal(b1?.lastHeartbeat, clock.now());
      assert.equal(b1?.queueSize, 0);
    }));

  void test(`${name}: settings get, set, overwrite, list and remove`, () =>
    withStore(async (store) => {
      const s = await store.connect();
      assert.equal(await s.getSetting("submit.messages"), null);
      await s.setSetting("submit.messages", "Locally");
      await s.setSetting("log.level", "3");
      await s.setSetting("submit.messages", "Remotely");
      assert.equal(await s.getSetting("submit.messages"), "Remotely");
      await s.setSetting("empty", "");
      assert.equal(await s.getSetting("empty"), "");
      assert.deepEqual(await s.listSettings(), [
        { key: "empty", value: "" },
        { key: "log.level", value: "3" },
        { key: "submit.messages", value: "Remotely" },
      ]);
      await s.setSetting("log.level", null);
      assert.equal(await s.getSetting("log.level"), null);
      assert.equal((await s.listSettings()).length, 2);
    }));

  void test(`${name}: homes set, move, clear, case-insensitive accounts`, () =>
    withStore(async (store) => {
      const s = await store.connect();
      assert.equal(await s.homeOf("a@example.test"), null);
      await s.setHome("A@Example.TEST", "b1");
      await s.setHome("c@example.test", "b2");
      assert.equal(await s.homeOf("a@example.test"), "b1");
      await s.setHome("a@example.test", "b2");
      assert.equal(await s.homeOf("A@EXAMPLE.TEST"), "b2");
      assert.deepEqual(await s.homes(), [
        { account: "a@example.test", node: "b2" },
        { account: "c@example.test", node: "b2" },
      ]);
      await s.clearHome("A@example.test");
      assert.equal(await s.homeOf("a@example.test"), null);
      await s.clearHome("never@example.test");
      assert.deepEqual(await s.homes(), [{ account: "c@example.test", node: "b2" }]);
    }));

  void test(`${name}: a lease is taken, renewed by its owner, refused to others, released`, () =>
    withStore(async (store, clock) => {
      const s = await store.connect();
      const t0 = clock.now();
      const l1 = lease(await s.acquireLease("U@example.test", "b1", t0, TTL));
      assert.deepEqual(
        { ...l1, token: 0 },
        { account: "u@example.test", owner: "b1", token: 0, expiresAt: t0 + TTL },
      );
      assert.ok(Number.isSafeInteger(l1.token) && l1.token > 0);

      // Ours and unexpired: renewed, same token.
      const again = lease(await s.acquireLease("u@example.test", "b1", t0 + 1000, TTL));
      assert.equal(again.token, l1.token);
      assert.equal(again.expiresAt, t0 + 1000 + TTL);

      const other = held(await s.acquireLease("u@example.test", "b2", t0 + 2000, TTL));
      assert.deepEqual(other, { heldBy: "b1", expiresAt: t0 + 1000 + TTL });

      assert.deepEqual(await s.leaseOf("u@example.test", t0 + 2000), again);
      assert.deepEqual(await s.leases(t0 + 2000), [again]);
      assert.equal(await s.leaseOf("other@example.test", t0), null);

      const renewed = await s.renewLease(again, t0 + 5000, TTL);
      assert.deepEqual(renewed, { ...again, expiresAt: t0 + 5000 + TTL });
      // A renewal with an older time never shortens the lease.
      assert.equal((await s.renewLease(again, t0, TTL))?.expiresAt, t0 + 5000 + TTL);

      assert.equal(await s.releaseLease(again), true);
      assert.equal(await s.leaseOf("u@example.test", t0 + 5000), null);
      assert.deepEqual(await s.leases(t0 + 5000), []);
      assert.equal(await s.releaseLease(again), false, "released twice");
      assert.equal(await s.renewLease(again, t0 + 5000, TTL), null, "renewed after release");

      // Free again: the next holder (even the same node) gets a greater token, never a reused one.
      const l2 = lease(await s.acquireLease("u@example.test", "b2", t0 + 6000, TTL));
      assert.ok(l2.token > l1.token);
      assert.equal(await s.releaseLease(l2), true);
      const l3 = lease(await s.acquireLease("u@example.test", "b1", t0 + 7000, TTL));
      assert.ok(l3.token > l2.token);
    }));

  void test(`${name}: an expired lease is taken over with a greater token; the old owner is fenced off`, () =>
    withStore(async (store, clock) => {
      const s = await store.connect();
      const t0 = clock.now();
      const old = lease(await s.acquireLease("u@example.test", "b1", t0, TTL));
      assert.deepEqual(await s.leaseOf("u@example.test", t0 + TTL - 1), old);
      assert.equal(await s.leaseOf("u@example.test", t0 + TTL), null, "expired at expiresAt");
      assert.deepEqual(await s.leases(t0 + TTL), []);

      // Expired but nobody took it: the token is still current, so the owner may renew.
      const late = await s.renewLease(old, t0 + TTL + 10, TTL);
      assert.deepEqual(late, { ...old, expiresAt: t0 + TTL + 10 + TTL });

      const t1 = t0 + 2 * TTL + 10;
      const taken = lease(await s.acquireLease("u@example.test", "b2", t1, TTL));
      assert.equal(taken.owner, "b2");
      assert.ok(taken.token > old.token, "takeover must raise the fencing token");
      assert.equal(await s.renewLease(old, t1 + 1, TTL), null);
      assert.equal(await s.releaseLease(old), false);
      assert.deepEqual(await s.leaseOf("u@example.test", t1 + 1), taken);

      // The old owner coming back sees it held, and after the new one expires takes a still greater token.
      assert.deepEqual(held(await s.acquireLease("u@example.test", "b1", t1 + 1, TTL)), {
        heldBy: "b2",
        expiresAt: t1 + TTL,
      });
      const back = lease(await s.acquireLease("u@example.test", "b1", t1 + TTL, TTL));
      assert.ok(back.token > taken.token);
      // Even its own expired lease is not silently continued: new holding, new token.
      const own = lease(await s.acquireLease("u@example.test", "b1", t1 + 3 * TTL, TTL));
      assert.ok(own.token > back.token);
      assert.equal(await s.renewLease(back, t1 + 3 * TTL, TTL), null);
    }));

  void test(`${name}: two connections racing for one lease: exactly one wins`, () =>
    withStore(async (store, clock) => {
      const a = await store.connect();
      const b = await store.connect();
      await a.register(member("b1"));
      assert.deepEqual(
        (await b.members()).map((m) => m.id),
        ["b1"],
        "a member registered on one connection is seen on the other",
      );
      const t0 = clock.now();
      for (let i = 0; i < 20; i++) {
        const account = `user${i}@example.test`;
        const [ra, rb] = await Promise.all([
          a.acquireLease(account, "b1", t0, TTL),
          b.acquireLease(account, "b2", t0, TTL),
        ]);
        const winners = [ra, rb].filter(isLease);
        assert.equal(winners.length, 1, `one winner for ${account}: ${JSON.stringify([ra, rb])}`);
        const loser = [ra, rb].find((r) => !isLease(r));
        assert.deepEqual(loser, { heldBy: winners[0]?.owner, expiresAt: t0 + TTL });
      }

      const aLease = lease(await a.acquireLease("race@example.test", "b1", t0, TTL));
      held(await b.acquireLease("race@example.test", "b2", t0 + TTL - 1, TTL));
      const bLease = lease(await b.acquireLease("race@example.test", "b2", t0 + TTL, TTL));
      assert.ok(bLease.token > aLease.token);
      assert.equal(await a.renewLease(aLease, t0 + TTL + 1, TTL), null);
      assert.equal(await a.releaseLease(aLease), false);
      assert.deepEqual(await a.leaseOf("race@example.test", t0 + TTL + 1), bLease);
    }));

  void test(`${name}: a spool epoch is taken with a greater token only from the token read; take-overs are recorded with it`, () =>
    withStore(async (store, clock) => {
      const a = await store.connect();
      const b = await store.connect();
      const t0 = clock.now();
      assert.equal(await a.spoolEpoch("f1"), null);
      const own = await a.takeSpool("f1", "f1", 0, [], t0);
      assert.deepEqual(own, { node: "f1", holder: "f1", token: 1, at: t0 });
      assert.deepEqual(await b.spoolEpoch("f1"), own);
      assert.equal(await b.takeSpool("f1", "f2", 0, [], t0), null, "a stale token takes nothing");
      const ids = ["0MX7LM0IJ0000AAAA", "0MX7LM0IJ0000BBBB"];
      // Two peers racing from the same read: exactly one wins.
      const [ra, rb] = await Promise.all([
        a.takeSpool("f1", "f2", 1, ids, t0 + 1),
        b.takeSpool("f1", "f3", 1, ["0MX7LM0IJ0000CCCC"], t0 + 1),
      ]);
      const winner = ra ?? rb;
      assert.ok((ra === null) !== (rb === null), "one winner");
      assert.equal(winner?.token, 2);
      assert.deepEqual(await a.spoolTakeovers("f1", 1), [
        {
          node: "f1",
          token: 2,
          by: winner.holder,
          at: t0 + 1,
          ids: winner.holder === "f2" ? ids : ["0MX7LM0IJ0000CCCC"],
        },
      ]);
      // The node comes back: it reads what was taken since its own token, then takes it back.
      const back = await a.takeSpool("f1", "f1", 2, [], t0 + 2);
      assert.equal(back?.token, 3);
      assert.deepEqual(await a.spoolTakeovers("f1", 3), []);
      assert.equal((await a.spoolTakeovers("f1", 0)).length, 1, "an epoch taken back records no ids");
      await assert.rejects(a.takeSpool("f1", "f2", 3, ["../x"], t0), TypeError);
    }));

  void test(`${name}: bad arguments reject (never throw synchronously); a closed state rejects`, () =>
    withStore(async (store, clock) => {
      const s = await store.connect();
      await assert.rejects(s.acquireLease("u@example.test", "b1", clock.now(), 0));
      await assert.rejects(s.acquireLease("", "b1", clock.now(), TTL));
      await assert.rejects(s.acquireLease("u@example.test", "", clock.now(), TTL));
      await assert.rejects(s.register(member("")));
      await assert.rejects(s.register(member("x", { role: "boss" as MemberInfo["role"] })));
      await assert.rejects(s.heartbeat("x", clock.now(), -1));
      await s.close();
      await s.close();
      await assert.rejects(s.members());
    }));

  void test(`${name}: subscribe() sees another connection's changes within a second; heartbeats and renewals are quiet`, () =>
    withStore(async (store, clock) => {
      const writer = await store.connect();
      const reader = await store.connect();
      assert.ok(reader.subscribe !== undefined, "the adapter offers subscribe()");
      const seen: StateChange[] = [];
      const off = reader.subscribe((c) => seen.push(c));
      // Both time bases move: the SQLite adapter polls on the injected clock, PostgreSQL on the wire.
      const waitFor = async (what: string, ok: () => boolean): Promise<void> => {
        const until = Date.now() + 1000;
        while (!ok()) {
          assert.ok(Date.now() < until, `${what} within a second: got ${JSON.stringify(seen)}`);
          clock.advance(50);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const got = (kind: ChangeKind, key?: string) => () =>
        seen.some((c) => c.kind === kind && (c.key === null || key === undefined || c.key === key));
      // First a baseline: every kind once, to be read from.
      await waitFor("the baseline", () =>
        (["members", "settings", "homes", "leases"] as const).every((k) => got(k)()),
      );
      seen.length = 0;

      await writer.register(member("b1"));
      await waitFor("a member joining", got("members", "b1"));
      await writer.setSetting("cluster.submitMessages@b1", "Locally");
      await waitFor("a setting", got("settings", "cluster.submitMessages@b1"));
      await writer.setHome("u@example.test", "b1");
      await waitFor("a home", got("homes", "u@example.test"));
      const l = lease(await writer.acquireLease("u@example.test", "b1", clock.now(), TTL));
      await waitFor("a lease taken", got("leases", "u@example.test"));
      const keyed = seen.filter((c) => c.key !== null);
      for (const c of keyed)
        assert.ok(["b1", "cluster.submitMessages@b1", "u@example.test"].includes(c.key!));

      // Heartbeats and renewals change nothing others must act on: a marker after them arrives alone.
      seen.length = 0;
      await writer.heartbeat("b1", clock.now() + 1, 3);
      await writer.renewLease(l, clock.now() + 2, TTL);
      await writer.setSetting("marker", "1");
      await waitFor("the marker", got("settings", "marker"));
      assert.deepEqual(
        seen.filter((c) => c.kind !== "settings"),
        [],
        "no member or lease change for a heartbeat or a renewal",
      );

      seen.length = 0;
      await writer.leave("b1");
      await waitFor("a member leaving", got("members", "b1"));
      assert.equal(await writer.releaseLease(l), true);
      await waitFor("a lease released", got("leases", "u@example.test"));

      off();
      seen.length = 0;
      await writer.setSetting("after", "1");
      clock.advance(1000);
      await writer.setSetting("barrier", "1");
      const again: StateChange[] = [];
      const off2 = reader.subscribe((c) => again.push(c));
      const until = Date.now() + 1000;
      while (!again.some((c) => c.kind === "settings")) {
        assert.ok(Date.now() < until, "a new subscriber gets its baseline");
        clock.advance(50);
        await new Promise((r) => setTimeout(r, 10));
      }
      off2();
      assert.deepEqual(seen, [], "nothing after unsubscribe");
    }));
}
