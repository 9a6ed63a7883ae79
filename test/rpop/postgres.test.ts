// RPOP entries on PostgreSQL (state.url = postgres://…), as members on separate machines keep
// them: the CLI adds an entry straight into the database while no node runs; a single server on
// that database polls it from a remote POP3 server (Mailyard's own, test/pop3/fixtures.ts) into
// the account's Maildir, its UIDL memory a row in the database; the CLI from another data
// directory (another machine, no node) lists the same entry once given the same rpop.keyFile
// (the passwords are sealed with it), and removing it through the
// node's admin API removes it for everyone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as cli } from "../../src/cli/main.js";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode } from "../../src/server/node.js";
import { openPg } from "../../src/state/pg.js";
import { memoryLogSink } from "../kit/log.js";
import { waitFor } from "../kit/load.js";
import { freePort } from "../kit/ports.js";
import { freshDatabase } from "../kit/postgres.js";
import { startPop3 } from "../pop3/fixtures.js";

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await cli(args, {
    out: (s: string) => (out += s + "\n"),
    err: (s: string) => (err += s + "\n"),
    env: {},
    cwd: tmpdir(),
  });
  return { code, out, err };
}

test("RPOP on PostgreSQL: entries added with no node running are polled by the node and seen from another data directory", async (t) => {
  const url = await freshDatabase(t);
  const remote = await startPop3(t);
  await remote.deliver(
    "Return-Path: <ann@origin.test>\r\nFrom: ann@origin.test\r\nSubject: via pg\r\n\r\nhi\r\n",
  );
  const roots = await Promise.all([1, 2].map(() => mkdtemp(join(tmpdir(), "mailyard-rpop-pg-"))));
  t.after(() => Promise.all(roots.map((r) => rm(r, { recursive: true, force: true }))).then(() => undefined));
  const [here, there] = roots as [string, string];
  // Nothing listens on these: the CLI opens the state itself.
  const offline = async (dataDir: string) => [
    "--set",
    `dataDir=${dataDir}`,
    "--set",
    `state.url=${url}`,
    "--set",
    `http.listen=127.0.0.1:${await freePort()}`,
  ];

  const sets = await offline(here);
  assert.equal((await run(["domain", "add", "example.test", ...sets])).code, 0);
  assert.equal(
    (await run(["account", "add", "carol@example.test", "--password", "carol-pw", ...sets])).code,
    0,
  );
  const add = await run([
    "rpop",
    "add",
    "carol@example.test",
    "--host",
    "127.0.0.1",
    "--port",
    String(remote.port),
    "--tls",
    "none",
    "--user",
    "alice@example.test",
    "--password",
    "s3cret pass",
    "--keep",
    "--interval",
    "1",
    ...sets,
  ]);
  assert.equal(add.code, 0, add.err);
  const id = /rpop entry (\d+) added/.exec(add.out)?.[1];
  assert.ok(id !== undefined, add.out);

  const logs = memoryLogSink();
  const node = await startNode(
    settingsSchema.parse({
      dataDir: here,
      hostname: "mx.example.test",
      state: { url },
      smtp: { listen: ["127.0.0.1:0"], outbound: { starttls: false } },
      submission: { listen: [] },
      submissions: { listen: [] },
      pop3: { listen: [] },
      rpop: { minIntervalSeconds: 1 },
      http: { listen: "127.0.0.1:0" },
      log: { stdout: false },
    }),
    { log: logs },
  );
  t.after(() => node.stop());
  const inbox = join(here, "mail", "example.test", "carol", "new");
  await waitFor(
    "the remote message in carol's Maildir",
    async () => (await readdir(inbox).catch(() => [])).length === 1,
  );
  const [name] = await readdir(inbox);
  assert.match(await readFile(join(inbox, name!), "utf8"), /with RPOP\r\n[^]*Subject: via pg/);
  const polled = logs.records.find((r) => r.tag === "RPOP" && r.text === "message submitted");
  assert.equal(polled?.fields["entry"], id);

  const pg = openPg(url);
  t.after(() => pg.close());
  await waitFor(
    "the UIDL remembered in the database",
    async () => (await pg.query("SELECT uid FROM rpop_uids WHERE entry = $1", [Number(id)])).length === 1,
  );
  // A later poll fetches nothing again: the memory is read back from the database.
  await waitFor("a later poll that fetched nothing", () =>
    logs.records.some((r) => r.text === "poll done" && r.fields["entry"] === id && r.fields["fetched"] === 0),
  );
  assert.equal((await readdir(inbox)).length, 1);
  // Polls come every second and take milliseconds: between two, no claim is left behind.
  await waitFor(
    "no claim held between polls",
    async () => (await pg.query("SELECT entry FROM rpop_claims")).length === 0,
  );

  // Another machine needs the key the passwords are sealed with (rpop.keyFile); without it the
  // store refuses to open, naming the setting, rather than seal new entries with a key of its own.
  const keyless = await run(["rpop", "list", "carol@example.test", ...(await offline(there))]);
  assert.equal(keyless.code, 1);
  assert.match(keyless.err, /^mailyard: RPOP password sealed with another key.*same rpop\.keyFile\n$/);
  const key = join(there, "copied-rpop.key");
  await copyFile(join(here, "secrets", "rpop.key"), key);
  const withKey = async () => [...(await offline(there)), "--set", `rpop.keyFile=${key}`];
  const elsewhere = await run(["rpop", "list", "carol@example.test", "--json", ...(await withKey())]);
  assert.equal(elsewhere.code, 0, elsewhere.err);
  const listed = JSON.parse(elsewhere.out) as { id: string; port: number; keep: boolean }[];
  assert.deepEqual(
    listed.map((e) => [e.id, e.port, e.keep]),
    [[id, remote.port, true]],
  );
  assert.ok(!elsewhere.out.includes("s3cret"), "no password in listings");

  const viaNode = [
    "--set",
    `dataDir=${here}`,
    "--set",
    `state.url=${url}`,
    "--set",
    `http.listen=127.0.0.1:${node.http.port}`,
  ];
  assert.equal((await run(["rpop", "remove", "carol@example.test", id, ...viaNode])).code, 0);
  assert.equal((await pg.query("SELECT id FROM rpop_entries")).length, 0);
  const gone = await run(["rpop", "list", "carol@example.test", ...(await withKey())]);
  assert.match(gone.out, /carol@example\.test has no RPOP entries/);
});
