// The mailyard command against a running node's admin API (started here in-process on port 0):
// directory commands go through the API, not the SQLite file, and queue commands act on the
// node's queue.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAdminServer, loadOrCreateAdminToken } from "../../src/admin/http.js";
import { createPromMetrics } from "../../src/admin/metrics.js";
import { settingsSchema } from "../../src/config/settings.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeQueue } from "../kit/queue.js";
import { mailyard } from "./run-cli.js";

async function node(t: { after(fn: () => Promise<void>): void }) {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-cli-api-"));
  // The node's directory lives elsewhere: a command that wrongly opened dataDir/mailyard.db
  // instead of using the API would not see the node's data.
  const nodeDir = await mkdtemp(join(tmpdir(), "mailyard-cli-node-"));
  const directory = openSqliteDirectory(join(nodeDir, "node.db"), new FakeClock());
  const queue = fakeQueue(["Q1", "Q2", "Q3"]);
  const logs = memoryLogSink();
  const server = createAdminServer({
    settings: settingsSchema.parse({ dataDir }),
    queue,
    directory,
    metrics: createPromMetrics({ queueSize: () => queue.size() }),
    log: logs.for("ADMIN"),
    token: await loadOrCreateAdminToken(dataDir),
    health: () => ({ ok: true, detail: {} }),
  });
  const { port } = await server.listen("127.0.0.1", 0);
  t.after(async () => {
    await server.close();
    await directory.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(nodeDir, { recursive: true, force: true });
  });
  const sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${port}`];
  return { dataDir, port, directory, queue, logs, run: (...args: string[]) => mailyard([...args, ...sets]) };
}

void test("directory commands go through the running node's admin API", async (t) => {
  const n = await node(t);
  assert.deepEqual(await n.run("domain", "add", "example.test"), {
    code: 0,
    out: "domain example.test added\n",
    err: `wrote to state through the admin API at 127.0.0.1:${n.port}\n`,
  });
  assert.deepEqual(await n.directory.listDomains(), ["example.test"]);
  assert.equal(
    (
      await n.run(
        "account",
        "add",
        "alice@example.test",
        "--password",
        "s3cret",
        "--quota",
        "unlimited",
        "--in-flow",
        "3/60",
      )
    ).code,
    0,
  );
  assert.notEqual(await n.directory.verifyPassword("alice@example.test", "s3cret"), null);
  assert.deepEqual((await n.directory.getAccount("alice@example.test"))?.inFlow, {
    messages: 3,
    periodSeconds: 60,
  });
  assert.equal(
    (await n.run("account", "set", "alice@example.test", "--password", "n3w", "--disabled")).code,
    0,
  );
  assert.notEqual(await n.directory.verifyPassword("alice@example.test", "n3w"), null);
  assert.equal((await n.directory.getAccount("alice@example.test"))?.enabled, false);
  const dup = await n.run("domain", "add", "example.test");
  assert.equal(dup.code, 1);
  assert.match(dup.err, /^mailyard: .*example\.test/);
  assert.equal((await n.run("alias", "add", "info@example.test", "alice@example.test")).code, 0);
  assert.equal(
    (await n.run("alias", "list", "example.test")).out,
    "info@example.test -> alice@example.test\n",
  );
  assert.match((await n.run("account", "list")).out, /alice@example\.test +disabled +unlimited/);
  const missing = await n.run("account", "remove", "nobody@example.test");
  assert.equal(missing.code, 1);
  assert.equal((await n.run("alias", "remove", "info@example.test")).code, 0);
  assert.equal((await n.run("account", "remove", "alice@example.test")).code, 0);
  assert.equal((await n.run("domain", "remove", "example.test")).code, 0);
  assert.deepEqual(await n.directory.listDomains(), []);
  assert.ok(n.logs.records.some((r) => r.text === "admin request" && r.fields["path"] === "/api/domains"));
});

void test("queue commands act on the node's queue", async (t) => {
  const n = await node(t);
  const list = await n.run("queue", "list", "--json");
  assert.equal(list.code, 0, list.err);
  assert.deepEqual(
    (JSON.parse(list.out) as { id: string }[]).map((m) => m.id),
    ["Q1", "Q2", "Q3"],
  );
  const human = await n.run("queue", "list");
  assert.match(
    human.out,
    /^Q1 +1234 +2026-01-01T00:00:00Z +active +smtp +<sender@example\.test>\n +rcpt@remote\.test pending attempts=2/m,
  );
  assert.match(human.out, /3 messages in the queue\n$/);
  assert.deepEqual(await n.run("queue", "hold", "Q1"), { code: 0, out: "message Q1 held\n", err: "" });
  assert.equal(n.queue.show("Q1")?.state, "held");
  assert.match((await n.run("queue", "show", "Q1")).out, /^Q1 .* held /);
  assert.equal((await n.run("queue", "release", "Q1")).code, 0);
  assert.equal((await n.run("queue", "retry", "Q2")).code, 0);
  assert.equal((await n.run("queue", "reject", "Q2", "--text", "no thanks")).code, 0);
  assert.equal((await n.run("queue", "reject", "Q3")).code, 0);
  assert.equal((await n.run("queue", "delete", "Q1")).code, 0);
  const gone = await n.run("queue", "show", "Q1");
  assert.equal(gone.code, 1);
  assert.match(gone.err, /no message Q1/);
  assert.deepEqual(n.queue.calls, [
    "hold Q1",
    "release Q1",
    "retry Q2",
    "reject Q2 no thanks",
    "reject Q3 Message rejected by the administrator",
    "delete Q1",
  ]);
});

void test("a token that does not match is a clear failure, not a fallback to the file", async (t) => {
  const n = await node(t);
  const other = await mkdtemp(join(tmpdir(), "mailyard-cli-other-"));
  t.after(() => rm(other, { recursive: true, force: true }));
  await loadOrCreateAdminToken(other);
  const r = await mailyard([
    "domain",
    "list",
    "--set",
    `dataDir=${other}`,
    "--set",
    `http.listen=127.0.0.1:${n.port}`,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.err, /refused the admin token/);
});
