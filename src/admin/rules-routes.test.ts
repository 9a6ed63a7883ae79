// The rules and sieve routes of the admin API over a real socket and a real SQLite rule store.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteDirectory } from "../directory/sqlite.js";
import { openSqliteRuleStore } from "../rules/sqlite-store.js";
import { FakeClock } from "../../test/kit/clock.js";
import { createAdminServer, loadOrCreateAdminToken } from "./http.js";
import { adminOptions, serveAdmin } from "../../test/kit/admin-api.js";

void test("rules and sieve over the admin API: get, set, validation errors as 400 with positions", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-admin-rules-"));
  const path = join(dataDir, "mailyard.db");
  const directory = openSqliteDirectory(path, new FakeClock());
  const rules = openSqliteRuleStore(path);
  const token = await loadOrCreateAdminToken(dataDir);
  const server = createAdminServer({ ...adminOptions({ dataDir, directory, token }), rules });
  const { call } = await serveAdmin(t, server, { token, dataDir, stores: [rules, directory] });

  const text = '(5,tag,(),(("Add Header","X-Cluster: yes")))';
  assert.deepEqual(await call("POST", "rules/cluster", { text }), {
    status: 200,
    json: { ok: true, rules: 1 },
  });
  const got = await call("GET", "rules/cluster");
  assert.equal(got.json["text"], '(\n  (5,tag,(),(("Add Header","X-Cluster: yes")))\n)');
  assert.equal((await call("GET", "rules/server")).json["text"], "()");
  // server rules are per node: rules/server is this node's (node.id), rules/server/ID any node's
  assert.deepEqual(await call("POST", "rules/server/b2", { text }), {
    status: 200,
    json: { ok: true, node: "b2", rules: 1 },
  });
  assert.equal((await call("GET", "rules/server")).json["node"], "node1");
  assert.equal((await call("GET", "rules/server")).json["text"], "()");
  assert.equal(((await call("GET", "rules/server/b2")).json["rules"] as unknown[]).length, 1);
  assert.equal((await rules.getRules({ kind: "server", node: "b2" })).length, 1);
  assert.equal((await call("POST", "rules/server", { text })).status, 200);
  assert.equal((await rules.getRules({ kind: "server", node: "node1" })).length, 1);
  assert.equal((await call("POST", "rules/server", { text: "()" })).status, 200);
  assert.equal((await call("POST", "rules/domain/Example.test", { text })).status, 200);
  assert.equal(((await call("GET", "rules/domain/example.test")).json["rules"] as unknown[]).length, 1);
  const bad = await call("POST", "rules/account/alice@example.test", { text: "(1,a,((Colour,is,x)),())" });
  assert.deepEqual(bad, {
    status: 400,
    json: {
      error: "invalid rules: unknown condition 'Colour' at offset 7",
      errors: [{ line: 1, column: 8, message: "unknown condition 'Colour'" }],
    },
  });
  // On a later line: the column counts from that line's start.
  const bad2 = await call("POST", "rules/server", { text: '(\n  (1,a,(),()),\n  (2,b,(),(("Nope")))\n)' });
  assert.equal(bad2.status, 400);
  assert.deepEqual(bad2.json["errors"], [{ line: 3, column: 13, message: "unknown action 'Nope'" }]);
  assert.equal((await call("GET", "rules/server")).json["text"], "()");
  assert.equal((await call("GET", "rules/account/not-an-address")).status, 400);

  assert.equal((await call("GET", "sieve/alice@example.test")).status, 404);
  const badScript = await call("POST", "sieve/alice@example.test", { script: 'keep;\nfileinto "x";' });
  assert.deepEqual(badScript, {
    status: 400,
    json: {
      error: "invalid sieve script",
      errors: [{ line: 2, column: 1, message: `command 'fileinto' needs require "fileinto"` }],
    },
  });
  assert.equal((await call("POST", "sieve/alice@example.test", { script: "keep;" })).status, 200);
  assert.deepEqual((await call("GET", "sieve/Alice@example.test")).json, {
    account: "alice@example.test",
    script: "keep;",
  });
  assert.equal((await call("DELETE", "sieve/alice@example.test")).status, 200);
  assert.equal((await call("GET", "sieve/alice@example.test")).status, 404);
});
