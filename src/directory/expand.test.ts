// Alias expansion over a real (in-memory) SQLite directory: nesting, forwarders, cycles,
// dedupe, keep-a-copy, limits.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { FakeClock } from "../../test/kit/clock.js";
import type { Directory } from "./directory.js";
import { openSqliteDirectory } from "./sqlite.js";
import { expandRecipient, type Expansion } from "./expand.js";

const opts = { maxDepth: 10, maxTargets: 100 };

async function setup(t: TestContext): Promise<Directory> {
  const dir = openSqliteDirectory(":memory:", new FakeClock());
  t.after(() => dir.close());
  await dir.addDomain("example.test");
  for (const u of ["alice", "bob", "carol"]) await dir.addAccount(`${u}@example.test`, "pw");
  return dir;
}

const targets = (e: Expansion) => {
  assert.equal(e.kind, "ok");
  return e.kind === "ok" ? e.targets.map((x) => `${x.address}${x.local ? "" : " (remote)"}`) : [];
};

void test("plain addresses: account, remote, unknown", async (t) => {
  const dir = await setup(t);
  assert.deepEqual(targets(await expandRecipient(dir, "Alice@Example.test", opts)), ["alice@example.test"]);
  assert.deepEqual(targets(await expandRecipient(dir, "x@remote.test", opts)), ["x@remote.test (remote)"]);
  assert.deepEqual(await expandRecipient(dir, "nobody@example.test", opts), { kind: "unknown" });
});

void test("nested aliases and forwarders, deduplicated, in order", async (t) => {
  const dir = await setup(t);
  await dir.addAlias("staff@example.test", ["alice@example.test", "bob@example.test"]);
  await dir.addAlias("ops@example.test", ["bob@example.test", "pager@remote.test"]);
  await dir.addAlias("all@example.test", [
    "staff@example.test",
    "ops@example.test",
    "carol@example.test",
    "ALICE@example.test",
  ]);
  await dir.addAlias("fwd@example.test", ["someone@elsewhere.test"]);
  assert.deepEqual(targets(await expandRecipient(dir, "all@example.test", opts)), [
    "alice@example.test",
    "bob@example.test",
    "pager@remote.test (remote)",
    "carol@example.test",
  ]);
  assert.deepEqual(targets(await expandRecipient(dir, "fwd@example.test", opts)), [
    "someone@elsewhere.test (remote)",
  ]);
});

void test("diamond: an alias reached twice is expanded once", async (t) => {
  const dir = await setup(t);
  await dir.addAlias("d@example.test", ["carol@example.test"]);
  await dir.addAlias("b@example.test", ["d@example.test"]);
  await dir.addAlias("c@example.test", ["d@example.test", "bob@example.test"]);
  await dir.addAlias("a@example.test", ["b@example.test", "c@example.test"]);
  assert.deepEqual(targets(await expandRecipient(dir, "a@example.test", opts)), [
    "carol@example.test",
    "bob@example.test",
  ]);
});

void test("cycles: without a final target a loop, with one the cycle is cut", async (t) => {
  const dir = await setup(t);
  await dir.addAlias("x@example.test", ["y@example.test"]);
  await dir.addAlias("y@example.test", ["z@example.test"]);
  await dir.addAlias("z@example.test", ["x@example.test"]);
  assert.deepEqual(await expandRecipient(dir, "x@example.test", opts), { kind: "loop" });
  assert.deepEqual(await expandRecipient(dir, "z@example.test", opts), { kind: "loop" });

  await dir.addAlias("p@example.test", ["q@example.test", "alice@example.test"]);
  await dir.addAlias("q@example.test", ["p@example.test", "out@remote.test"]);
  assert.deepEqual(targets(await expandRecipient(dir, "p@example.test", opts)), [
    "out@remote.test (remote)",
    "alice@example.test",
  ]);
});

void test("self-reference: skipped when no account has the address", async (t) => {
  const dir = await setup(t);
  await dir.addAlias("me@example.test", ["me@example.test", "bob@example.test"]);
  assert.deepEqual(targets(await expandRecipient(dir, "me@example.test", opts)), ["bob@example.test"]);
  await dir.addAlias("only@example.test", ["only@example.test"]);
  assert.deepEqual(await expandRecipient(dir, "only@example.test", opts), { kind: "loop" });
});

void test("self-reference keeps a copy when the address is also an account", async () => {
  // The SQLite adapter forbids an account and alias on one address; another adapter might not.
  const account = { address: "me@example.test", localPart: "me", domain: "example.test", enabled: true };
  const fake = {
    lookup: (a: string) =>
      Promise.resolve(
        a === "me@example.test"
          ? { kind: "alias" as const, alias: { address: a, targets: ["me@example.test", "x@remote.test"] } }
          : { kind: "remote" as const },
      ),
    getAccount: (a: string) => Promise.resolve(a === "me@example.test" ? account : null),
  } as unknown as Directory;
  assert.deepEqual(targets(await expandRecipient(fake, "me@example.test", opts)), [
    "me@example.test",
    "x@remote.test (remote)",
  ]);
});

void test("unknown local target passes through as a local final target", async (t) => {
  const dir = await setup(t);
  await dir.addAlias("l@example.test", ["gone@example.test", "bob@example.test"]);
  assert.deepEqual(targets(await expandRecipient(dir, "l@example.test", opts)), [
    "gone@example.test",
    "bob@example.test",
  ]);
});

void test("limits: depth and number of targets", async (t) => {
  const dir = await setup(t);
  // a0 -> a1 -> ... -> a11 -> alice: 12 levels of aliases.
  for (let i = 11; i >= 0; i--) {
    await dir.addAlias(`a${i}@example.test`, [i === 11 ? "alice@example.test" : `a${i + 1}@example.test`]);
  }
  assert.deepEqual(await expandRecipient(dir, "a0@example.test", opts), { kind: "loop" });
  assert.deepEqual(targets(await expandRecipient(dir, "a0@example.test", { maxDepth: 12, maxTargets: 5 })), [
    "alice@example.test",
  ]);
  assert.deepEqual(targets(await expandRecipient(dir, "a2@example.test", opts)), ["alice@example.test"]);

  await dir.addAlias(
    "big@example.test",
    Array.from({ length: 6 }, (_, i) => `r${i}@remote.test`),
  );
  assert.deepEqual(await expandRecipient(dir, "big@example.test", { maxDepth: 10, maxTargets: 5 }), {
    kind: "too-many",
  });
  assert.equal(
    targets(await expandRecipient(dir, "big@example.test", { maxDepth: 10, maxTargets: 6 })).length,
    6,
  );
});
