// The rule store's contract (store.ts) as tests, run on every adapter: sqlite-store.test.ts and
// pg-store.test.ts call ruleStoreContract with a way to open a fresh store (and reopen it).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { parseRules } from "./seed/text.js";
import type { RuleStore } from "./store.js";

/** `open` gives a store on the same backing state each call within one test. */
export type OpenRuleStore = (t: TestContext) => Promise<(now: () => number) => Promise<RuleStore>>;

export function ruleStoreContract(name: string, fresh: OpenRuleStore): void {
  void test(`${name} rule store: rule sets per scope and Sieve scripts survive a reopen; [] and null remove`, async (t) => {
    const open = await fresh(t);
    let store = await open(() => 1000);
    const junk = parseRules('(1,junk,((Subject,is,"*sale*")),(("Store in",Junk)))');
    const tag = parseRules('(5,tag,(),(("Add Header","X-Cluster: yes")))');
    await store.setRules({ kind: "server" }, junk);
    await store.setRules({ kind: "cluster" }, tag);
    await store.setRules({ kind: "domain", name: "Example.TEST" }, tag);
    await store.setRules({ kind: "account", address: "Alice@Example.test" }, junk);
    await store.setSieve("Alice@example.test", "keep;");
    await store.remember("alice@example.test", "h", "Bob@remote.test", 5000);
    await store.close();

    store = await open(() => 2000);
    try {
      assert.deepEqual(await store.getRules({ kind: "server" }), junk);
      assert.deepEqual(await store.getRules({ kind: "cluster" }), tag);
      assert.deepEqual(await store.getRules({ kind: "domain", name: "example.test" }), tag);
      assert.deepEqual(await store.getRules({ kind: "account", address: "alice@example.test" }), junk);
      assert.deepEqual(await store.getRules({ kind: "account", address: "bob@example.test" }), []);
      assert.equal(await store.getSieve("alice@example.test"), "keep;");
      assert.equal(await store.getSieve("bob@example.test"), null);
      assert.equal(await store.replied("alice@example.test", "h", "bob@remote.test", 4999), true);
      assert.equal(await store.replied("alice@example.test", "h", "bob@remote.test", 5000), false);
      assert.equal(await store.replied("alice@example.test", "other", "bob@remote.test", 10), false);
      await store.setRules({ kind: "server" }, junk.slice(0, 0));
      await store.setSieve("alice@example.test", null);
      assert.deepEqual(await store.getRules({ kind: "server" }), []);
      assert.equal(await store.getSieve("alice@example.test"), null);
    } finally {
      await store.close();
    }
  });

  void test(`${name} rule store: an IDN scope or account is one key whether typed as U-labels or A-labels`, async (t) => {
    const store = await (await fresh(t))(() => 1000);
    try {
      const tag = parseRules('(5,tag,(),(("Add Header","X-IDN: yes")))');
      await store.setRules({ kind: "domain", name: "Bücher.test" }, tag);
      await store.setRules({ kind: "account", address: "user@bücher.test" }, tag);
      await store.setSieve("user@bücher.test", "keep;");
      assert.deepEqual(await store.getRules({ kind: "domain", name: "xn--bcher-kva.test" }), tag);
      assert.deepEqual(await store.getRules({ kind: "account", address: "USER@xn--bcher-kva.test" }), tag);
      assert.equal(await store.getSieve("user@xn--bcher-kva.test"), "keep;");
    } finally {
      await store.close();
    }
  });

  void test(`${name} rule store: claimReply lets one of two concurrent claims win; an expired entry is claimed again`, async (t) => {
    const open = await fresh(t);
    const a = await open(() => 0);
    const b = await open(() => 0);
    try {
      const both = await Promise.all([
        a.claimReply("a@x.test", "h", "s@y.test", 100, 200),
        b.claimReply("a@x.test", "h", "S@y.test", 100, 200),
      ]);
      assert.deepEqual(both.filter(Boolean).length, 1, `one winner: ${JSON.stringify(both)}`);
      assert.equal(await a.claimReply("a@x.test", "h", "s@y.test", 150, 300), false);
      assert.equal(await a.claimReply("a@x.test", "other", "s@y.test", 150, 300), true);
      assert.equal(await b.claimReply("a@x.test", "h", "s@y.test", 200, 400), true);
      assert.equal(await a.replied("a@x.test", "h", "s@y.test", 399), true);
    } finally {
      await a.close();
      await b.close();
    }
  });
}
