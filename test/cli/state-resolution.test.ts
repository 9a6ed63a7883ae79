// Which state a CLI command opens, as an operator runs it (real processes, real files): a
// read-only command pointed at a state that does not exist fails with exit 2 naming the place and
// creates nothing; a command run with a cluster member's dataDir and http.listen acts on that
// member's shared state (recorded by the member at start in dataDir/state.location), running or
// not, and says where it wrote.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "../kit/ports.js";
import { freshDatabase } from "../kit/postgres.js";
import { startProcCluster } from "../cluster/processes-kit.js";
import { mailyard } from "./run-cli.js";

const READ_ONLY: readonly string[][] = [
  ["domain", "list"],
  ["account", "list"],
  ["account", "senders", "a@example.test"],
  ["alias", "list", "example.test"],
  ["cluster", "members"],
  ["cluster", "homes"],
  ["cluster", "owners"],
  ["cluster", "home", "a@example.test"],
  ["settings", "get"],
  ["rules", "get", "server"],
  ["sieve", "get", "a@example.test"],
  ["admin-user", "list"],
  ["rpop", "list", "a@example.test"],
  ["lb-config", "haproxy"],
];

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-state-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

void test("read-only commands on a missing SQLite state exit 2 naming it and create nothing", async (t) => {
  const dir = await tempDir(t);
  // Nobody listens here: the commands must not find a node and must look at the file.
  const listen = ["--set", `http.listen=127.0.0.1:${await freePort()}`];
  const missing = join(dir, "nonexistent", "dir", "x.db");
  for (const args of READ_ONLY) {
    const r = await mailyard([...args, "--set", `state.url=${missing}`, ...listen]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.equal(r.out, "", args.join(" "));
    assert.equal(
      r.err,
      `mailyard: no state at ${missing} (check state.url and dataDir; nothing was created)\n`,
    );
    // No data directory given either: the default one (a mistyped dataDir) is not made.
    const dataDir = join(dir, "typo");
    const d = await mailyard([...args, "--set", `dataDir=${dataDir}`, ...listen]);
    assert.equal(d.code, 2, `${args.join(" ")}: ${d.err}`);
    assert.match(d.err, new RegExp(`no state at ${join(dataDir, "mailyard.db")} `));
    assert.equal(existsSync(dataDir), false, `${args.join(" ")} made ${dataDir}`);
  }
  assert.deepEqual(await readdir(dir), [], "nothing was created");
  // A command that writes still creates the state, and says where.
  const add = await mailyard(["domain", "add", "example.test", "--set", `state.url=${missing}`, ...listen]);
  assert.deepEqual(add, { code: 0, out: "domain example.test added\n", err: `wrote to state ${missing}\n` });
  const list = await mailyard(["domain", "list", "--set", `state.url=${missing}`, ...listen]);
  assert.deepEqual(list, { code: 0, out: "example.test\n", err: "" });
});

void test("read-only commands on PostgreSQL: no database, or one without the schema, exit 2 and create nothing", async (t) => {
  const url = await freshDatabase(t);
  const listen = ["--set", `http.listen=127.0.0.1:${await freePort()}`];
  for (const args of [
    ["domain", "list"],
    ["cluster", "members"],
    ["admin-user", "list"],
    ["rules", "get", "server"],
  ]) {
    const r = await mailyard([...args, "--set", `state.url=${url}`, ...listen]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(
      r.err,
      /^mailyard: no \w+ state in postgres:\/\/.+ \(run mailyard db migrate, or start a node, first\)\n$/,
    );
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables = await c.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
    assert.deepEqual(tables.rows, [], "no table was created");
  } finally {
    await c.end();
  }
  const gone = new URL(url);
  gone.pathname = "/mailyard_no_such_database";
  const r = await mailyard(["domain", "list", "--set", `state.url=${gone.toString()}`, ...listen]);
  assert.equal(r.code, 2, r.err);
  assert.equal(r.err, `mailyard: no state at ${gone.toString()}: the database does not exist\n`);
});

void test("admin-user and directory commands with a member's options write to its shared state, running or not", async (t) => {
  const cluster = await startProcCluster(t);
  const b1 = await cluster.start("b1", "backend");
  const f1 = await cluster.start("f1", "frontend");
  await cluster.waitLive([f1, b1], ["f1", "b1"]);
  // What OPERATIONS.md gives for account add: the member's dataDir and http.listen, nothing else
  // (the members got state.url on their command lines; the CLI's environment is PATH only).
  const F1 = ["--set", `dataDir=${f1.dataDir}`, "--set", `http.listen=127.0.0.1:${f1.http}`];
  const add = await mailyard(["admin-user", "add", "ops", "--password", "ops-password-1", ...F1]);
  assert.equal(add.code, 0, add.err);
  assert.equal(add.out, "admin user ops added\n");
  assert.equal(existsSync(join(f1.dataDir, "mailyard.db")), false, "no stray state in the member's dataDir");

  // The login holds on every member: the administrator is in the shared state.
  for (const m of [f1, b1]) {
    const r = await fetch(`http://127.0.0.1:${m.http}/admin/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "ops", password: "ops-password-1" }),
    });
    assert.equal(r.status, 200, `login on ${m.id}`);
    await r.body?.cancel();
  }
  assert.equal(add.err, `wrote to state ${cluster.stateUrl}\n`);
  const list = await mailyard(["admin-user", "list", ...F1]);
  assert.match(list.out, /^ops\tcreated /);

  // Through the running member's admin API, the line names the state it wrote to.
  const dom = await mailyard(["domain", "add", "example.test", ...F1]);
  assert.equal(dom.code, 0, dom.err);
  assert.equal(
    dom.err,
    `wrote to state ${cluster.stateUrl} (through the admin API at 127.0.0.1:${f1.http})\n`,
  );

  // With the member stopped, the same options still reach its state (its record in dataDir).
  await f1.kill("SIGTERM");
  const alias = await mailyard(["alias", "add", "info@example.test", "far@remote.test", ...F1]);
  assert.equal(alias.code, 0, alias.err);
  assert.equal(alias.err, `wrote to state ${cluster.stateUrl}\n`);
  assert.deepEqual(
    (await cluster.directory.listAliases("example.test")).map((a) => a.address),
    ["info@example.test"],
  );
  const passwd = await mailyard(["admin-user", "passwd", "ops", "--password", "ops-password-2", ...F1]);
  assert.equal(passwd.code, 0, passwd.err);
  const again = await fetch(`http://127.0.0.1:${b1.http}/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: "ops", password: "ops-password-2" }),
  });
  assert.equal(again.status, 200, "the new password holds on b1");
  await again.body?.cancel();
  assert.equal(existsSync(join(f1.dataDir, "mailyard.db")), false, "still no stray state");
});
