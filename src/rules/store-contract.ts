// The rule store's contract (store.ts) as tests, run on every adapter: sqlite-store.test.ts and
// pg-store.test.ts call ruleStoreContract with a way to open a fresh store (and reopen it), and
// sharedServerRulesContract with a way to plant the old shared server row and cluster members.
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
    await store.setRules({ kind: "server", node: "b1" }, junk);
    await store.setRules({ kind: "cluster" }, tag);
    await store.setRules({ kind: "domain", name: "Example.TEST" }, tag);
    await store.setRules({ kind: "account", address: "Alice@Example.test" }, junk);
    await store.setSieve("Alice@example.test", "keep;");
    await store.remember("alice@example.test", "h", "Bob@remote.test", 5000);
    await store.close();

    store = await open(() => 2000);
    try {
      assert.deepEqual(await store.getRules({ kind: "server", node: "b1" }), junk);
      // server rules belong to one node: another node (ids are exact) has none
      assert.deepEqual(await store.getRules({ kind: "server", node: "b2" }), []);
      assert.deepEqual(await store.getRules({ kind: "server", node: "B1" }), []);
      assert.deepEqual(await store.getRules({ kind: "cluster" }), tag);
      assert.deepEqual(await store.getRules({ kind: "domain", name: "example.test" }), tag);
      assert.deepEqual(await store.getRules({ kind: "account", address: "alice@example.test" }), junk);
      assert.deepEqual(await store.getRules({ kind: "account", address: "bob@example.test" }), []);
      assert.equal(await store.getSieve("alice@example.test"), "keep;");
      assert.equal(await store.getSieve("bob@example.test"), null);
      assert.equal(await store.replied("alice@example.test", "h", "bob@remote.test", 4999), true);
      assert.equal(await store.replied("alice@example.test", "h", "bob@remote.test", 5000), false);
      assert.equal(await store.replied("alice@example.test", "other", "bob@remote.test", 10), false);
      await store.setRules({ kind: "server", node: "b1" }, junk.slice(0, 0));
      await store.setSieve("alice@example.test", null);
      assert.deepEqual(await store.getRules({ kind: "server", node: "b1" }), []);
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

/** A fresh state: `plant` writes rows as an older Mailyard left them; `open` opens as node `nodeId`. */
export interface LegacyState {
  /** The old shared server rule set (scope "server") in its text form. */
  plantShared(text: string): Promise<void>;
  /** Registers cluster members, as running nodes do. */
  register(ids: readonly string[]): Promise<void>;
  open(nodeId: string): Promise<RuleStore>;
}

/** The cluster state as register() needs it: what the adapters' openers give. */
export interface MemberRegistry {
  register(m: {
    id: string;
    role: "frontend" | "backend";
    smtp: string;
    http: string;
    channel: null;
    submitMessages: "default";
    startedAt: number;
  }): Promise<unknown>;
  close(): Promise<void>;
}

/** LegacyState.register over a cluster state: "f…" ids frontends, the others backends; closes it. */
export async function registerMembers(state: MemberRegistry, ids: readonly string[]): Promise<void> {
  try {
    for (const id of ids)
      await state.register({
        id,
        role: id.startsWith("f") ? "frontend" : "backend",
        smtp: "127.0.0.1:25",
        http: "127.0.0.1:8080",
        channel: null,
        submitMessages: "default",
        startedAt: 1,
      });
  } finally {
    await state.close();
  }
}

export function sharedServerRulesContract(
  name: string,
  fresh: (t: TestContext) => Promise<LegacyState>,
): void {
  const text = '(\n  (1,junk,((Subject,is,"*sale*")),(("Store in",Junk)))\n)';
  const junk = parseRules(text);

  void test(`${name} rule store: the old shared server rule set goes to every member that ever registered`, async (t) => {
    const st = await fresh(t);
    await st.register(["f1", "b1", "b2"]);
    await st.plantShared(text);
    // a node id that never registered (a CLI run with the default id) gets no copy
    let store = await st.open("node1");
    try {
      for (const node of ["f1", "b1", "b2"])
        assert.deepEqual(await store.getRules({ kind: "server", node }), junk, node);
      assert.deepEqual(await store.getRules({ kind: "server", node: "node1" }), []);
      await store.setRules({ kind: "server", node: "f1" }, []);
    } finally {
      await store.close();
    }
    // moved once: a reopen does not bring back what the operator removed
    store = await st.open("b1");
    try {
      assert.deepEqual(await store.getRules({ kind: "server", node: "f1" }), []);
      assert.deepEqual(await store.getRules({ kind: "server", node: "b2" }), junk);
    } finally {
      await store.close();
    }
  });

  void test(`${name} rule store: with no member ever registered (a single server) the old set goes to the opener's node id`, async (t) => {
    const st = await fresh(t);
    await st.plantShared(text);
    const store = await st.open("mx1");
    try {
      assert.deepEqual(await store.getRules({ kind: "server", node: "mx1" }), junk);
    } finally {
      await store.close();
    }
    const again = await st.open("other");
    try {
      assert.deepEqual(await again.getRules({ kind: "server", node: "other" }), []);
      assert.deepEqual(await again.getRules({ kind: "server", node: "mx1" }), junk);
    } finally {
      await again.close();
    }
  });
}
