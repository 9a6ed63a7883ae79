import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteRuleStore } from "./sqlite-store.js";
import { openSqliteDirectory } from "../directory/sqlite.js";
import { parseRules } from "./seed/text.js";
import { systemClock } from "../world/clock.js";
import { ruleStoreContract } from "./store-contract.js";

ruleStoreContract("sqlite", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-rules-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return (now) => Promise.resolve(openSqliteRuleStore(join(dir, "mailyard.db"), now));
});

test("rule sets per scope, Sieve scripts and the reply memory survive a reopen of the directory's file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-rules-"));
  const path = join(dir, "mailyard.db");
  try {
    // the directory and the rule store share the file, each with its own migrations
    const directory = openSqliteDirectory(path, systemClock);
    await directory.addDomain("example.test");
    let store = openSqliteRuleStore(path, () => 1000);
    const junk = parseRules('(1,junk,((Subject,is,"*sale*")),(("Store in",Junk)))');
    const tag = parseRules('(5,tag,(),(("Add Header","X-Cluster: yes")))');
    await store.setRules({ kind: "server" }, junk);
    await store.setRules({ kind: "cluster" }, tag);
    await store.setRules({ kind: "domain", name: "Example.TEST" }, tag);
    await store.setRules({ kind: "account", address: "Alice@Example.test" }, junk);
    await store.setSieve("Alice@example.test", "keep;");
    await store.remember("alice@example.test", "h", "Bob@remote.test", 5000);
    await store.close();

    store = openSqliteRuleStore(path, () => 2000);
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
    await store.setRules({ kind: "server" }, []);
    await store.setSieve("alice@example.test", null);
    assert.deepEqual(await store.getRules({ kind: "server" }), []);
    assert.equal(await store.getSieve("alice@example.test"), null);
    await store.close();
    assert.deepEqual(await directory.listDomains(), ["example.test"]);
    await directory.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
