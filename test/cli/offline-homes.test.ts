// `account add` with no node running, on a state file that cluster members use: the account gets
// its home backend from the CLI itself (as the admin API would give it), --home is checked
// against the members, and with no live backend nothing is created. Without any backend in the
// state (a single server) accounts get no home.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteClusterState } from "../../src/cluster/sqlite-state.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { FakeClock } from "../kit/clock.js";
import { freePort } from "../kit/ports.js";
import { mailyard } from "./run-cli.js";

const member = (id: string, role: "frontend" | "backend") => ({
  id,
  role,
  smtp: "127.0.0.1:25",
  http: "127.0.0.1:80",
  channel: role === "backend" ? "127.0.0.1:24" : null,
  submitMessages: "default",
  startedAt: 0,
});

void test("account add without a running node gives the account a home when backends are registered", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-cli-homes-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const db = join(dir, "state.db");
  const port = await freePort();
  const run = (...args: string[]) =>
    mailyard([
      ...args,
      "--set",
      `dataDir=${dir}`,
      "--set",
      `state.url=${db}`,
      "--set",
      `http.listen=127.0.0.1:${port}`,
    ]);

  assert.equal((await run("domain", "add", "example.test")).code, 0);
  assert.equal(
    (await run("account", "add", "solo@example.test", "--password", "pw")).out,
    "account solo@example.test added\n",
  );

  // b-old beat long ago (down); b1 and f1 just now.
  const state = openSqliteClusterState(db, new FakeClock(Date.now() - 3_600_000));
  await state.register(member("b-old", "backend"));
  await state.close();
  const live = openSqliteClusterState(db, new FakeClock(Date.now()));
  await live.register(member("b1", "backend"));
  await live.register(member("f1", "frontend"));

  const chosen = await run("account", "add", "alice@example.test", "--password", "pw");
  assert.equal(chosen.code, 0, chosen.err);
  assert.equal(chosen.out, "account alice@example.test added, home b1\n");
  const asked = await run("account", "add", "bob@example.test", "--password", "pw", "--home", "b-old");
  assert.equal(asked.out, "account bob@example.test added, home b-old\n");
  const wrong = await run("account", "add", "carol@example.test", "--password", "pw", "--home", "f1");
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /f1 is a frontend/);
  assert.deepEqual(await live.homes(), [
    { account: "alice@example.test", node: "b1" },
    { account: "bob@example.test", node: "b-old" },
  ]);

  await live.leave("b1");
  const none = await run("account", "add", "dave@example.test", "--password", "pw");
  assert.equal(none.code, 1);
  assert.match(none.err, /no live backend/);
  await live.close();
  const directory = openSqliteDirectory(db, new FakeClock(Date.now()));
  t.after(() => directory.close());
  assert.equal(await directory.getAccount("carol@example.test"), null);
  assert.equal(await directory.getAccount("dave@example.test"), null);

  assert.equal((await run("account", "remove", "alice@example.test")).code, 0);
  const after = openSqliteClusterState(db, new FakeClock(Date.now()));
  t.after(() => after.close());
  assert.equal(await after.homeOf("alice@example.test"), null);
});
