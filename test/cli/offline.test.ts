// The mailyard command as an operator runs it, with no node running: directory commands open
// the SQLite directory in dataDir directly; queue commands say the node is needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../kit/ports.js";
import { mailyard } from "./run-cli.js";

async function offline(t: { after(fn: () => Promise<void>): void }) {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-cli-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  // A port nobody listens on: the CLI must find no node there and use the SQLite file.
  const port = await freePort();
  const sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${port}`];
  return { dataDir, port, run: (...args: string[]) => mailyard([...args, ...sets]) };
}

void test("domain, account and alias commands work on the SQLite directory when no node runs", async (t) => {
  const { run, dataDir } = await offline(t);
  assert.deepEqual(await run("domain", "add", "Example.test"), {
    code: 0,
    out: "domain example.test added\n",
    err: `wrote to state ${join(dataDir, "mailyard.db")}\n`,
  });
  assert.equal((await run("domain", "list")).out, "example.test\n");
  assert.equal(
    (
      await run(
        "account",
        "add",
        "bob@example.test",
        "--password",
        "pw",
        "--quota",
        "50M",
        "--out-flow",
        "10/60",
      )
    ).code,
    0,
  );
  const dup = await run("account", "add", "bob@example.test", "--password", "pw");
  assert.equal(dup.code, 1);
  assert.match(dup.err, /^mailyard: .*exists/);
  assert.equal(
    (
      await run(
        "account",
        "set",
        "bob@example.test",
        "--disabled",
        "--in-flow",
        "5/3600",
        "--max-message-size",
        "1M",
      )
    ).code,
    0,
  );
  const list = await run("account", "list", "example.test", "--json");
  assert.equal(list.code, 0, list.err);
  const [bob] = JSON.parse(list.out) as {
    address: string;
    enabled: boolean;
    quotaBytes: number;
    outFlow: unknown;
    inFlow: unknown;
    maxMessageSize: number;
  }[];
  assert.equal(bob?.address, "bob@example.test");
  assert.equal(bob?.enabled, false);
  assert.equal(bob?.quotaBytes, 50 * 1024 * 1024);
  assert.equal(bob?.maxMessageSize, 1024 * 1024);
  assert.deepEqual(bob?.outFlow, { messages: 10, periodSeconds: 60 });
  assert.deepEqual(bob?.inFlow, { messages: 5, periodSeconds: 3600 });
  assert.match(
    (await run("account", "list")).out,
    /^ADDRESS +MAIL .*\nbob@example\.test +disabled +50M +0 +1M +10\/60 +5\/3600\n$/,
  );
  assert.equal(
    (await run("alias", "add", "info@example.test", "bob@example.test", "far@remote.test")).code,
    0,
  );
  assert.equal((await run("alias", "list")).out, "info@example.test -> bob@example.test, far@remote.test\n");
  const busy = await run("domain", "remove", "example.test");
  assert.equal(busy.code, 1);
  assert.equal(busy.err.split("\n").length, 2, "one line");
  assert.equal((await run("alias", "remove", "info@example.test")).code, 0);
  assert.equal((await run("account", "remove", "bob@example.test")).code, 0);
  assert.equal((await run("domain", "remove", "example.test")).code, 0);
  assert.equal((await run("domain", "list")).out, "");
});

void test("queue commands need the running node", async (t) => {
  const { run, port } = await offline(t);
  const r = await run("queue", "list");
  assert.equal(r.code, 1);
  assert.equal(
    r.err,
    `mailyard is not running at 127.0.0.1:${port} (queue commands need the running node)\n`,
  );
});

void test("usage and configuration errors exit 2 with one message; failures exit 1", async (t) => {
  const { run } = await offline(t);
  for (const args of [
    ["bogus"],
    ["domain", "add"],
    ["domain", "add", "a", "b"],
    ["domain", "add", "x.test", "--quota", "5"],
    ["account", "add", "a@b.test"],
    ["queue", "list", "--frob"],
    ["account", "set", "a@b.test", "--enabled", "--disabled"],
    ["account", "add", "a@b.test", "--password", "p", "--out-flow", "ten"],
  ]) {
    const r = await run(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, /^mailyard: .+\n\(mailyard help for usage\)\n$/);
  }
  const noCommand = await mailyard([]);
  assert.equal(noCommand.code, 2);
  const help = await mailyard(["help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /^usage: mailyard/);
  // A configuration error is the operator's input too: exit 2.
  const badSet = await run("domain", "list", "--set", "queue.maxMesages=3");
  assert.equal(badSet.code, 2);
  assert.match(badSet.err, /unknown setting "queue\.maxMesages".*queue\.maxMessages/);
});

void test("config show prints the effective settings from file, environment and --set", async (t) => {
  const { dataDir } = await offline(t);
  const toml = await mailyard(
    ["config", "show", "--set", "queue.maxMessages=7", "--set", `dataDir=${dataDir}`],
    { MAILYARD_HOSTNAME: "mx.example.test" },
  );
  assert.equal(toml.code, 0, toml.err);
  assert.match(toml.out, /^hostname = "mx\.example\.test"$/m);
  assert.match(toml.out, /^\[queue\]\nmaxMessages = 7$/m);
  const json = await mailyard(["config", "show", "--json", "--set", "smtp.listen=127.0.0.1:25,127.0.0.1:26"]);
  assert.deepEqual((JSON.parse(json.out) as { smtp: { listen: string[] } }).smtp.listen, [
    "127.0.0.1:25",
    "127.0.0.1:26",
  ]);
  // What config show prints is a config file that gives the same settings back.
  const file = join(dataDir, "shown.toml");
  await writeFile(file, toml.out);
  const direct = await mailyard(
    ["config", "show", "--json", "--set", "queue.maxMessages=7", "--set", `dataDir=${dataDir}`],
    { MAILYARD_HOSTNAME: "mx.example.test" },
  );
  const fromFile = await mailyard(["config", "show", "--json", "--config", file]);
  assert.equal(fromFile.code, 0, fromFile.err);
  assert.deepEqual(JSON.parse(fromFile.out), JSON.parse(direct.out));
});

void test("sender grants work on the SQLite directory when no node runs", async (t) => {
  const { run, dataDir } = await offline(t);
  assert.equal((await run("domain", "add", "example.test")).code, 0);
  assert.equal((await run("account", "add", "alice@example.test", "--password", "pw")).code, 0);
  assert.deepEqual(await run("account", "grant-sender", "alice@example.test", "@Partner.test"), {
    code: 0,
    out: "account alice@example.test may send as @partner.test\n",
    err: `wrote to state ${join(dataDir, "mailyard.db")}\n`,
  });
  assert.equal((await run("account", "grant-sender", "alice@example.test", "@partner.test")).code, 1);
  assert.equal((await run("account", "senders", "alice@example.test")).out, "@partner.test\n");
  const unknown = await run("account", "senders", "nobody@example.test");
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /no account nobody@example\.test/);
  assert.equal((await run("account", "revoke-sender", "alice@example.test", "@partner.test")).code, 0);
  assert.equal((await run("account", "senders", "alice@example.test", "--json")).out, "[]\n");
});
