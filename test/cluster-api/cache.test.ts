// The frontend's answer cache, end to end over loopback with a fake clock: what reaches the
// backend's directory on a hit, after a lifetime, after a negative lifetime, past the size
// bound, for flows (never cached), and for directory refusals and failures.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClusterDirectory, type ApiBackend } from "../../src/cluster/api/client.js";
import { DirectoryError } from "../../src/directory/directory.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { SECRET, counting, sqliteDirectory, startBackend } from "./fixtures.js";

type After = { after(fn: () => Promise<void>): void };

async function setup(t: After, maxEntries = 100) {
  const clock = new FakeClock();
  const directory = await sqliteDirectory(t, clock);
  const api = counting(directory);
  const b = await startBackend(t, { directory, api, clock });
  const c = createClusterDirectory({
    backends: () => [{ id: "b1", http: b.http }],
    secret: SECRET,
    nodeId: "fe1",
    clock,
    timeoutMs: 5000,
    cacheMs: 10_000,
    negativeCacheMs: 3000,
    maxEntries,
    credentialStamp: (a) => directory.credentialStamp(a),
    log: memoryLogSink().for("CLUSTER"),
  });
  t.after(() => Promise.resolve(c.close()));
  const asked = (what: string) => api.calls.filter((x) => x === what).length;
  return { clock, c, api, asked, directory };
}

test("a cached answer is served without asking until cacheMs has passed", async (t) => {
  const { clock, c, asked } = await setup(t);
  assert.equal((await c.lookup("alice@example.test")).kind, "account");
  assert.equal((await c.lookup("ALICE@example.test")).kind, "account");
  assert.equal((await c.getAccount("bob@example.test"))?.address, "bob@example.test");
  assert.equal((await c.getAccount("bob@example.test"))?.address, "bob@example.test");
  assert.equal(asked("lookup alice@example.test"), 1);
  assert.equal(asked("getAccount bob@example.test"), 1);
  clock.advance(9_999);
  await c.lookup("alice@example.test");
  assert.equal(asked("lookup alice@example.test"), 1);
  clock.advance(1);
  await c.lookup("alice@example.test");
  assert.equal(asked("lookup alice@example.test"), 2);
});

test("negative answers live negativeCacheMs, positive ones longer", async (t) => {
  const { clock, c, asked } = await setup(t);
  assert.deepEqual(await c.lookup("nobody@example.test"), { kind: "unknown" });
  assert.equal(await c.getAccount("nobody@example.test"), null);
  await c.lookup("alice@example.test");
  clock.advance(2_999);
  await c.lookup("nobody@example.test");
  await c.getAccount("nobody@example.test");
  assert.equal(asked("lookup nobody@example.test"), 1);
  assert.equal(asked("getAccount nobody@example.test"), 1);
  clock.advance(1);
  await c.lookup("nobody@example.test");
  await c.getAccount("nobody@example.test");
  await c.lookup("alice@example.test");
  assert.equal(asked("lookup nobody@example.test"), 2);
  assert.equal(asked("getAccount nobody@example.test"), 2);
  assert.equal(asked("lookup alice@example.test"), 1);
});

test("password checks are cached per user and password; a wrong one never reuses a right one", async (t) => {
  const { clock, c, asked } = await setup(t);
  assert.ok(await c.verifyPassword("alice@example.test", "alice-pw"));
  assert.ok(await c.verifyPassword("alice@example.test", "alice-pw"));
  assert.equal(asked("verifyPassword alice@example.test"), 1);
  assert.equal(await c.verifyPassword("alice@example.test", "alice-pw "), null);
  assert.equal(await c.verifyPassword("alice@example.test", "alice-pw "), null);
  assert.equal(asked("verifyPassword alice@example.test"), 2);
  // Negative password answers expire first.
  clock.advance(3000);
  assert.equal(await c.verifyPassword("alice@example.test", "alice-pw "), null);
  assert.ok(await c.verifyPassword("alice@example.test", "alice-pw"));
  assert.equal(asked("verifyPassword alice@example.test"), 3);
});

test("a cached password check never outlives the credentials: change, disable, remove apply at once", async (t) => {
  const { c, asked, directory } = await setup(t);
  assert.ok(await c.verifyPassword("alice@example.test", "alice-pw"));
  assert.equal(await c.verifyPassword("bob@example.test", "new-bob-pw"), null);
  await directory.updateAccount("alice@example.test", { password: "alice-new-pw" });
  await directory.updateAccount("bob@example.test", { password: "new-bob-pw" });
  // No time passes: nothing here waits for a lifetime.
  assert.equal(await c.verifyPassword("alice@example.test", "alice-pw"), null);
  assert.ok(await c.verifyPassword("alice@example.test", "alice-new-pw"));
  assert.ok(await c.verifyPassword("bob@example.test", "new-bob-pw"));
  assert.ok(await c.verifyPassword("alice@example.test", "alice-new-pw"));
  assert.equal(asked("verifyPassword alice@example.test"), 3, "unchanged credentials are still cached");
  await directory.updateAccount("alice@example.test", { enabled: false });
  assert.equal((await c.verifyPassword("alice@example.test", "alice-new-pw"))?.enabled, false);
  await directory.removeAccount("bob@example.test");
  assert.equal(await c.verifyPassword("bob@example.test", "new-bob-pw"), null);
});

test("without a credential stamp source password checks are not cached at all", async (t) => {
  const clock = new FakeClock();
  const directory = await sqliteDirectory(t, clock);
  const api = counting(directory);
  const b = await startBackend(t, { directory, api, clock });
  const c = createClusterDirectory({
    backends: () => [{ id: "b1", http: b.http }],
    secret: SECRET,
    nodeId: "fe1",
    clock,
    timeoutMs: 5000,
    cacheMs: 10_000,
    negativeCacheMs: 3000,
    maxEntries: 100,
    log: memoryLogSink().for("CLUSTER"),
  });
  t.after(() => Promise.resolve(c.close()));
  assert.ok(await c.verifyPassword("alice@example.test", "alice-pw"));
  assert.ok(await c.verifyPassword("alice@example.test", "alice-pw"));
  assert.equal(api.calls.filter((x) => x === "verifyPassword alice@example.test").length, 2);
});

test("the cache holds at most maxEntries answers, dropping the least recently used", async (t) => {
  const { c, asked } = await setup(t, 2);
  await c.lookup("alice@example.test");
  await c.lookup("bob@example.test");
  await c.lookup("alice@example.test"); // alice is now the most recent
  await c.lookup("off@example.test"); // bob goes
  await c.lookup("alice@example.test");
  await c.lookup("off@example.test");
  assert.equal(asked("lookup alice@example.test"), 1);
  assert.equal(asked("lookup off@example.test"), 1);
  await c.lookup("bob@example.test");
  assert.equal(asked("lookup bob@example.test"), 2);
});

test("flow counts are never cached; concurrent identical questions share one request", async (t) => {
  const { clock, c, asked } = await setup(t);
  assert.equal(await c.countFlow("alice@example.test", "out", 0), 0);
  await c.recordFlow("alice@example.test", "out", clock.now());
  assert.equal(await c.countFlow("alice@example.test", "out", 0), 1);
  assert.equal(asked("countFlow alice@example.test"), 2);
  const answers = await Promise.all([1, 2, 3, 4].map(() => c.lookup("bob@example.test")));
  assert.ok(answers.every((a) => a.kind === "account"));
  assert.equal(asked("lookup bob@example.test"), 1);
  c.clearCache();
  await c.lookup("bob@example.test");
  assert.equal(asked("lookup bob@example.test"), 2);
});

test("a directory refusal is an answer (not retried elsewhere); a directory failure tries the next backend", async (t) => {
  const clock = new FakeClock();
  const directory = await sqliteDirectory(t, clock);
  const refusing = counting(directory);
  refusing.getAccount = (a) => {
    refusing.calls.push(`getAccount ${a}`);
    return Promise.reject(new DirectoryError("invalid", "no such thing as that"));
  };
  const broken = counting(directory);
  broken.lookup = () => Promise.reject(new Error("disk on fire"));
  const b1 = await startBackend(t, { directory, api: refusing, clock });
  const b2 = await startBackend(t, { directory, api: broken, clock, id: "b2" });
  const backends: ApiBackend[] = [
    { id: "b1", http: b1.http },
    { id: "b2", http: b2.http },
  ];
  const c = createClusterDirectory({
    backends: () => backends,
    secret: SECRET,
    nodeId: "fe1",
    clock,
    timeoutMs: 5000,
    cacheMs: 10_000,
    negativeCacheMs: 3000,
    maxEntries: 100,
    log: memoryLogSink().for("CLUSTER"),
  });
  t.after(() => Promise.resolve(c.close()));

  // The first call starts at b1, which refuses: that is the answer, b2 is not asked.
  await assert.rejects(
    c.getAccount("bob@example.test"),
    (e: unknown) => e instanceof DirectoryError && e.code === "invalid",
  );
  assert.deepEqual(refusing.calls, ["getAccount bob@example.test"]);
  assert.deepEqual(broken.calls, []);

  // b2's lookup fails with a 500: b1 answers instead, every time.
  for (let i = 0; i < 3; i++) {
    c.clearCache();
    assert.equal((await c.lookup("alice@example.test")).kind, "account");
  }
  assert.equal(refusing.calls.filter((x) => x === "lookup alice@example.test").length, 3);
  assert.ok(b2.logs.some((r) => r.text === "cluster api request failed"));
  assert.ok(!b2.logs.some((r) => JSON.stringify(r).includes("alice-pw")));
});
