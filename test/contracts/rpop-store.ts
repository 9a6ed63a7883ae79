// The RPOP store's contract (store.ts) as tests, run on every adapter: sqlite-store.test.ts and
// pg-store.test.ts call rpopStoreContract with a way to open stores on one fresh backing state.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../kit/clock.js";
import { entryView, RpopError, type RpopEntrySpec, type RpopStore } from "../../src/sources/rpop/store.js";

/** `open` gives a store on the same backing state each call within one test. */
export type OpenRpopStore = (t: TestContext) => Promise<(clock: FakeClock) => Promise<RpopStore>>;

export const spec: RpopEntrySpec = {
  host: "Pop.Remote.test",
  port: 995,
  tls: "tls",
  tlsVerify: true,
  user: "me",
  password: "pw with spaces",
  apop: false,
  keep: true,
  intervalSeconds: 300,
};

export function rpopStoreContract(name: string, fresh: OpenRpopStore): void {
  void test(`${name} rpop store: entries per account, UIDL memory and pruning, removal, a reopen`, async (t) => {
    const open = await fresh(t);
    const clock = new FakeClock(1_700_000_000_000);
    let store = await open(clock);
    const a = await store.add("Alice@Example.test", spec);
    assert.equal(a.account, "alice@example.test");
    assert.equal(a.host, "pop.remote.test");
    assert.equal(a.createdAt, clock.now());
    assert.deepEqual(
      { ...a, id: "", account: "", host: "", createdAt: 0 },
      { ...spec, id: "", account: "", host: "", createdAt: 0 },
      "every field as given",
    );
    clock.advance(1000);
    const b = await store.add("bob@example.test", {
      ...spec,
      keep: false,
      tls: "none",
      tlsVerify: false,
      apop: true,
      port: 110,
    });
    assert.equal(b.createdAt, clock.now());
    assert.deepEqual([b.keep, b.tls, b.tlsVerify, b.apop, b.port], [false, "none", false, true, 110]);
    assert.deepEqual(
      (await store.list()).map((e) => e.id),
      [a.id, b.id],
    );
    assert.deepEqual(await store.list("ALICE@example.test"), [a]);
    assert.deepEqual(await store.list("nobody@example.test"), []);
    assert.ok(!("password" in entryView(a)));

    await store.remember(a.id, "u1", 1);
    await store.remember(a.id, "u2", 2);
    await store.remember(a.id, "u2", 3);
    await store.remember(b.id, "u1", 3);
    assert.deepEqual([...(await store.seen(a.id))].sort(), ["u1", "u2"]);
    assert.equal(await store.prune(a.id, new Set(["u2", "u9"])), 1);
    assert.deepEqual([...(await store.seen(a.id))], ["u2"]);
    assert.equal(await store.prune(a.id, new Set()), 1, "an empty listing forgets everything");
    assert.equal((await store.seen(a.id)).size, 0);
    await store.remember(a.id, "u3", 4);
    assert.equal((await store.seen("not-an-id")).size, 0);
    assert.equal(await store.prune("not-an-id", new Set()), 0);
    await store.close();

    store = await open(clock);
    try {
      assert.deepEqual(await store.list(), [a, b], "the same entries after a reopen");
      assert.deepEqual([...(await store.seen(a.id))], ["u3"]);
      assert.equal(await store.remove("bob@example.test", a.id), false, "not bob's entry");
      assert.equal(await store.remove("alice@example.test", "x1"), false);
      assert.equal(await store.remove("alice@example.test", a.id), true);
      assert.equal(await store.remove("alice@example.test", a.id), false);
      assert.equal((await store.seen(a.id)).size, 0, "its memory went with it");
      await store.remember(a.id, "late", 5);
      assert.equal((await store.seen(a.id)).size, 0, "a removed entry remembers nothing");
      assert.deepEqual([...(await store.seen(b.id))], ["u1"]);
      assert.deepEqual(
        (await store.list()).map((e) => e.id),
        [b.id],
      );
    } finally {
      await store.close();
    }
  });

  void test(`${name} rpop store: invalid entries are refused naming the field`, async (t) => {
    const open = await fresh(t);
    const store = await open(new FakeClock(0));
    try {
      const bad: [Partial<RpopEntrySpec>, RegExp][] = [
        [{ host: "bad host" }, /^host/],
        [{ port: 0 }, /^port/],
        [{ tls: "ssl" as "tls" }, /^tls/],
        [{ user: "two words" }, /^user/],
        [{ password: "line\r\nbreak" }, /^password/],
        [{ intervalSeconds: 0 }, /^intervalSeconds/],
      ];
      for (const [patch, why] of bad) {
        await assert.rejects(store.add("a@example.test", { ...spec, ...patch }), (e: unknown) => {
          assert.ok(e instanceof RpopError);
          assert.equal(e.code, "invalid");
          assert.match(e.message, why);
          return true;
        });
      }
      assert.equal((await store.list()).length, 0);
    } finally {
      await store.close();
    }
  });

  void test(`${name} rpop store: two stores on one state share entries; of racing claims one wins, renewals, release, expiry`, async (t) => {
    const open = await fresh(t);
    const clock = new FakeClock(10_000);
    const one = await open(clock);
    const two = await open(clock);
    try {
      const added = await Promise.all(
        ["a", "b", "c", "d", "e"].map((u) => one.add(`${u}@example.test`, spec)),
      );
      assert.deepEqual(
        (await two.list()).map((e) => e.id).sort(),
        added.map((e) => e.id).sort(),
        "entries added through one store are seen through the other",
      );
      // Every entry raced for by two holders on two stores at once: exactly one wins each.
      for (const e of added) {
        const [x, y] = await Promise.all([
          one.claim(e.id, "n1", 10_000, 20_000),
          two.claim(e.id, "n2", 10_000, 20_000),
        ]);
        assert.equal(Number(x) + Number(y), 1, `one winner for entry ${e.id}: ${x} ${y}`);
      }
      const e = added[0]!;
      const [winner, loser] = (await one.claim(e.id, "n1", 10_001, 20_001)) ? ["n1", "n2"] : ["n2", "n1"];
      assert.equal(await two.claim(e.id, winner, 11_000, 21_000), true, "the holder renews its claim");
      assert.equal(await one.claim(e.id, loser, 20_999, 30_000), false, "still live until it expires");
      await one.release(e.id, loser);
      assert.equal(
        await one.claim(e.id, loser, 20_999, 30_000),
        false,
        "another holder's release frees nothing",
      );
      assert.equal(await one.claim(e.id, loser, 21_000, 31_000), true, "an expired claim is taken over");
      assert.equal(await two.claim(e.id, winner, 21_500, 31_500), false, "and is no longer the old holder's");
      await two.release(e.id, loser);
      assert.equal(await one.claim(e.id, winner, 21_600, 31_600), true, "released: free at once");

      assert.equal(await one.claim("999999", "n1", 0, 1), false, "no such entry");
      assert.equal(await one.claim("not-an-id", "n1", 0, 1), false);
      await one.release("999999", "n1");
      assert.equal(await one.remove(e.account, e.id), true, "a claimed entry can be removed");
      assert.equal(await two.claim(e.id, winner, 21_700, 31_700), false, "its claim went with it");
    } finally {
      await one.close();
      await two.close();
    }
  });
}
