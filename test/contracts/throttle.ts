// The login throttle (throttle.ts) as tests, run on every ThrottleRows adapter:
// sqlite-throttle.test.ts and pg-throttle.test.ts call throttleContract with a way to open rows
// on one fresh backing state. The policy is driven through createLoginThrottle, so the rules are
// checked against each adapter's own rows. Not a test file itself.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../kit/clock.js";
import { loginName, type LoginName } from "../../src/proto/login-name.js";
import type { Clock } from "../../src/world/clock.js";
import { createLoginThrottle, type ThrottleRows } from "../../src/state/throttle.js";

/** `fresh` gives an opener; all rows it opens within one test share the same state. */
export type OpenThrottleRows = (t: TestContext) => Promise<(clock: Clock) => Promise<ThrottleRows>>;

const n = (typed: string): LoginName => {
  const name = loginName(typed);
  assert.ok(name !== null);
  return name;
};

export function throttleContract(adapter: string, fresh: OpenThrottleRows): void {
  const open = async (t: TestContext, clock: Clock): Promise<ThrottleRows[]> => {
    const opener = await fresh(t);
    const a = await opener(clock);
    const b = await opener(clock);
    t.after(async () => {
      await a.close();
      await b.close();
    });
    return [a, b];
  };
  const throttleOn = (rows: ThrottleRows, clock: FakeClock, scope = "mail", maxEntries?: number) =>
    createLoginThrottle({
      clock,
      rows,
      scope,
      policy: () => ({
        freeFailures: 3,
        freeFailuresPerAddress: 10,
        baseMs: 1000,
        maxMs: 8000,
        forgetMs: 3_600_000,
      }),
      ...(maxEntries !== undefined ? { maxEntries } : {}),
    });

  void test(`${adapter} throttle: a name is locked after its free failures, each further one doubling the lock`, async (t) => {
    const clock = new FakeClock();
    const [rows] = await open(t, clock);
    const th = throttleOn(rows!, clock);
    await th.failed(n("admin"), "10.0.0.1");
    await th.failed(n("admin"), "10.0.0.2");
    assert.equal(await th.wait(n("admin"), "10.0.0.3"), 0, "two failures are free");
    await th.failed(n("admin"), "10.0.0.3");
    assert.equal(await th.wait(n("admin"), "10.0.0.9"), 1000, "third: locked 1 s, from any address");
    assert.equal(await th.wait(n("ADMIN"), "10.0.0.9"), 1000, "one canonical name");
    assert.equal(await th.wait(n("other"), "10.0.0.9"), 0, "other names are not locked");
    const locks: number[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(await th.wait(n("admin"), "x"));
      await th.failed(n("admin"), "x");
      locks.push(await th.wait(n("admin"), "x"));
    }
    assert.deepEqual(locks, [2000, 4000, 8000, 8000, 8000]);
  });

  void test(`${adapter} throttle: an address is locked after its own free failures; a success clears the name only`, async (t) => {
    const clock = new FakeClock();
    const [rows] = await open(t, clock);
    const th = throttleOn(rows!, clock);
    for (let i = 0; i < 8; i++) await th.failed(n(`user${i}`), "192.0.2.7");
    await th.failed(null, "192.0.2.7");
    assert.equal(await th.wait(n("fresh"), "192.0.2.7"), 0);
    assert.equal(await th.wait(null, "192.0.2.7"), 0);
    await th.failed(null, "192.0.2.7");
    assert.equal(await th.wait(n("fresh"), "192.0.2.7"), 1000, "a refused name counts for the address");
    assert.equal(await th.wait(null, "192.0.2.7"), 1000);
    assert.equal(await th.wait(n("fresh"), "192.0.2.8"), 0);
    await th.succeeded(n("fresh"));
    assert.equal(await th.wait(n("fresh"), "192.0.2.7"), 1000, "a success never clears the address");

    for (let i = 0; i < 3; i++) await th.failed(n("admin"), "a");
    assert.ok((await th.wait(n("admin"), "b")) > 0);
    clock.advance(1000);
    await th.succeeded(n("admin"));
    await th.failed(n("admin"), "b");
    assert.equal(await th.wait(n("admin"), "b"), 0, "counting starts again");
  });

  void test(`${adapter} throttle: counts are forgotten after forgetMs idle; scopes are apart`, async (t) => {
    const clock = new FakeClock();
    const [rows] = await open(t, clock);
    const mail = throttleOn(rows!, clock);
    const admin = throttleOn(rows!, clock, "admin");
    await mail.failed(n("alice"), "a");
    await mail.failed(n("alice"), "a");
    clock.advance(3_600_001);
    await mail.failed(n("alice"), "a");
    assert.equal(await mail.wait(n("alice"), "a"), 0, "the first two were forgotten");
    for (let i = 0; i < 3; i++) await admin.failed(n("alice"), "z");
    assert.ok((await admin.wait(n("alice"), "z")) > 0);
    assert.equal(await mail.wait(n("alice"), "z"), 0, "an administrator named alice is not the account");
  });

  void test(`${adapter} throttle: failures on two members add up to one lock; the table is bounded`, async (t) => {
    const clock = new FakeClock();
    const [one, two] = await open(t, clock);
    const onOne = throttleOn(one!, clock, "mail", 100);
    const onTwo = throttleOn(two!, clock, "mail", 100);
    await onOne.failed(n("victim"), "addr1");
    await onTwo.failed(n("victim"), "addr2");
    assert.equal(await onTwo.wait(n("victim"), "z"), 0);
    await onOne.failed(n("victim"), "addr3");
    assert.equal(await onTwo.wait(n("victim"), "z"), 1000, "the third failure, on another member, locks");
    await Promise.all([
      onOne.failed(n("race"), "r1"),
      onTwo.failed(n("race"), "r2"),
      onOne.failed(n("race"), "r3"),
    ]);
    assert.equal(await onOne.wait(n("race"), "z"), 1000, "failures at once on two members all count");
    for (let i = 0; i < 200; i++) {
      clock.advance(1);
      await onOne.failed(n(`flood${i}`), `f${i}`);
    }
    assert.equal(await onOne.wait(n("victim"), "z"), 0, "evicted (a bounded table beats a perfect memory)");
  });
}
