// RPOP on a whole single node, in-process, against real POP3 servers: a private Dovecot
// (Debian's dovecot-pop3d, passwd-file users, APOP enabled) on a loopback port, and the node's
// own POP3 listener over STLS. Entries are added with the mailyard CLI through the admin API.
// Fetched mail lands in the account's Maildir, with source rpop in the logs; keep mode fetches
// nothing new at the next poll (UIDL memory) and leaves the remote messages; delete mode and
// APOP empty the remote mailbox. Dovecot refuses mail access as root, so under root its mail
// tree belongs to nobody (65534), as the passwd-file says.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { memoryLogSink } from "../kit/log.js";
import { freePort, waitForPort } from "../kit/ports.js";
import { waitFor } from "../kit/load.js";
import { startSink, type Sink } from "../kit/sink.js";
import { Pop3Client } from "../kit/pop3-client.js";

const DOVECOT = "/usr/sbin/dovecot";
let dataDir = "";
let tmp = "";
let node: RunningNode;
let sink: Sink;
let dovecot: ChildProcess | null = null;
let dovecotPort = 0;
let cliSets: string[] = [];
const logs = memoryLogSink();
let uid = 0;
let gid = 0;

const local = async (user: string): Promise<string[]> => {
  const out: string[] = [];
  for (const sub of ["new", "cur"]) {
    const dir = join(dataDir, "mail", "example.test", user, sub);
    for (const n of (await readdir(dir).catch(() => [])).sort())
      out.push(await readFile(join(dir, n), "utf8"));
  }
  return out;
};
const remoteCount = async (user: string): Promise<number> => {
  let n = 0;
  for (const sub of ["new", "cur"])
    n += (await readdir(join(tmp, "mail", user, sub)).catch(() => [])).filter(
      (f) => !f.startsWith("."),
    ).length;
  return n;
};

async function cliRun(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await cli([...args, ...cliSets], {
    out: (s: string) => (out += s + "\n"),
    err: (s: string) => (err += s + "\n"),
    env: {},
    cwd: dataDir,
  });
  return { code, out, err };
}

async function remoteMessage(user: string, name: string, text: string): Promise<void> {
  const dir = join(tmp, "mail", user);
  for (const sub of ["tmp", "new", "cur"]) await mkdir(join(dir, sub), { recursive: true });
  await writeFile(join(dir, "new", name), text);
  if (process.getuid?.() === 0) {
    for (const p of [
      join(tmp, "mail"),
      dir,
      ...["tmp", "new", "cur"].map((s) => join(dir, s)),
      join(dir, "new", name),
    ])
      await chown(p, uid, gid);
  }
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "mailyard-rpop-dovecot-"));
  await chmod(tmp, 0o755);
  const root = process.getuid?.() === 0;
  uid = root ? 65534 : process.getuid!();
  gid = root ? 65534 : process.getgid!();
  for (const d of ["run", "state", "mail", "home"]) await mkdir(join(tmp, d));
  if (root) {
    await chown(join(tmp, "mail"), uid, gid);
    await chown(join(tmp, "home"), uid, gid);
  }
  const users = join(tmp, "users");
  await writeFile(
    users,
    [
      ["keeper", "pw-keep"],
      ["deleter", "pw-del"],
    ]
      .map(([u, p]) => `${u}:{PLAIN}${p}:${uid}:${gid}::${join(tmp, "home", u!)}::\n`)
      .join(""),
  );
  dovecotPort = await freePort();
  const me = userInfo().username;
  const conf = join(tmp, "dovecot.conf");
  await writeFile(
    conf,
    [
      "protocols = pop3",
      `base_dir = ${join(tmp, "run")}`,
      `state_dir = ${join(tmp, "state")}`,
      `log_path = ${join(tmp, "dovecot.log")}`,
      "ssl = no",
      "disable_plaintext_auth = no",
      "auth_mechanisms = plain apop",
      "listen = 127.0.0.1",
      `mail_location = maildir:${join(tmp, "mail")}/%n`,
      "pop3_uidl_format = %08Xu%08Xv",
      "first_valid_uid = 0",
      "first_valid_gid = 0",
      ...(root ? [] : [`default_internal_user = ${me}`, `default_login_user = ${me}`]),
      `passdb {\n  driver = passwd-file\n  args = ${users}\n}`,
      `userdb {\n  driver = passwd-file\n  args = ${users}\n}`,
      `service pop3-login {\n  inet_listener pop3 {\n    address = 127.0.0.1\n    port = ${dovecotPort}\n  }\n  inet_listener pop3s {\n    port = 0\n  }\n}`,
      "",
    ].join("\n"),
  );
  await remoteMessage(
    "keeper",
    "1000.A.remote",
    "Return-Path: <ann@origin.test>\r\nFrom: ann@origin.test\r\nSubject: kept one\r\n\r\nfirst\r\n",
  );
  await remoteMessage(
    "keeper",
    "1001.B.remote",
    "From: Ben <ben@origin.test>\r\nSubject: kept two\r\n\r\n.leading dot\r\n",
  );
  await remoteMessage(
    "deleter",
    "1002.C.remote",
    "From: cy@origin.test\r\nSubject: to delete\r\n\r\nbye\r\n",
  );
  const child = spawn(DOVECOT, ["-F", "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  dovecot = child;
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(dovecotPort, 15_000);
  } catch (e) {
    const log = await readFile(join(tmp, "dovecot.log"), "utf8").catch(() => "");
    throw new Error(`dovecot did not start: ${String(e)}\n${stderr}\n${log}`, { cause: e });
  }

  dataDir = await mkdtemp(join(tmpdir(), "mailyard-rpop-node-"));
  sink = await startSink();
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"], forwardTo: [`127.0.0.1:${sink.port}`], outbound: { starttls: false } },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: ["127.0.0.1:0"] },
    rpop: { minIntervalSeconds: 1 },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: logs });
  cliSets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal((await cliRun(["domain", "add", "example.test"])).code, 0);
  for (const a of ["alice", "bob", "carol", "dave"])
    assert.equal((await cliRun(["account", "add", `${a}@example.test`, "--password", `${a}-pw`])).code, 0);
});

after(async () => {
  await node?.stop();
  await sink?.stop();
  if (dovecot !== null && dovecot.exitCode === null) {
    const exited = new Promise<void>((r) => dovecot!.once("exit", () => r()));
    dovecot.kill("SIGTERM");
    const t = setTimeout(() => dovecot!.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  }
  await rm(dataDir, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
});

const polls = (entry: string) =>
  logs.records.filter((r) => r.tag === "RPOP" && r.text === "poll done" && r.fields["entry"] === entry);

test("keep mode against Dovecot: fetched into the Maildir once, left on the server, source rpop", async () => {
  const add = await cliRun([
    "rpop",
    "add",
    "alice@example.test",
    "--host",
    "127.0.0.1",
    "--port",
    String(dovecotPort),
    "--tls",
    "none",
    "--user",
    "keeper",
    "--password",
    "pw-keep",
    "--keep",
    "--interval",
    "1",
  ]);
  assert.equal(add.code, 0, add.err);
  const id = /rpop entry (\d+) added/.exec(add.out)![1]!;
  await waitFor("alice's two messages", async () => (await local("alice")).length === 2);
  const msgs = await local("alice");
  const one = msgs.find((m) => m.includes("Subject: kept one"))!;
  assert.match(
    one,
    /^Return-Path: <ann@origin\.test>\r\nDelivered-To: alice@example\.test\r\nReceived: from 127\.0\.0\.1 by mx\.example\.test \(Mailyard\) with RPOP/,
  );
  assert.ok(
    msgs.some((m) => m.includes("Return-Path: <ben@origin.test>") && m.includes("\r\n\r\n.leading dot\r\n")),
  );
  const submitted = logs.records.filter(
    (r) => r.tag === "RPOP" && r.text === "message submitted" && r.fields["entry"] === id,
  );
  assert.equal(submitted.length, 2);
  assert.ok(submitted.every((r) => r.fields["source"] === "rpop"));
  assert.ok(logs.records.some((r) => r.tag === "SUBMIT" && r.fields["source"] === "rpop"));
  // Polled again (interval 1 s): nothing new, the remote copies stay.
  await waitFor("a later poll that fetched nothing", () => polls(id).some((r) => r.fields["fetched"] === 0));
  assert.equal((await local("alice")).length, 2);
  assert.equal(await remoteCount("keeper"), 2);

  const list = await cliRun(["rpop", "list", "alice@example.test", "--json"]);
  const entries = JSON.parse(list.out) as Record<string, unknown>[];
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!["host"], "127.0.0.1");
  assert.equal(entries[0]!["keep"], true);
  assert.ok(!list.out.includes("pw-keep"), "no password in listings");
  assert.equal((await cliRun(["rpop", "remove", "alice@example.test", id])).code, 0);
  const gone = await cliRun(["rpop", "remove", "alice@example.test", id]);
  assert.equal(gone.code, 1);
  assert.match(gone.err, /has no RPOP entry/);
});

test("delete mode with APOP against Dovecot empties the remote mailbox", async () => {
  const add = await cliRun([
    "rpop",
    "add",
    "bob@example.test",
    "--host",
    "127.0.0.1",
    "--port",
    String(dovecotPort),
    "--tls",
    "none",
    "--user",
    "deleter",
    "--password",
    "pw-del",
    "--apop",
    "--interval",
    "1",
  ]);
  assert.equal(add.code, 0, add.err);
  await waitFor("bob's message", async () => (await local("bob")).length === 1);
  assert.match((await local("bob"))[0]!, /Subject: to delete/);
  await waitFor("the remote copy deleted", async () => (await remoteCount("deleter")) === 0);
});

test("against Mailyard's own POP3 over STLS: dave's mail moves to carol, remote copies deleted", async () => {
  // dave gets two messages by XTND XMIT from alice; carol's entry polls dave's mailbox here.
  const c = await Pop3Client.connect(node.pop3[0]!.port);
  await c.line();
  await c.cmd("STLS");
  await c.upgrade();
  await c.cmd("USER alice@example.test");
  assert.match((await c.cmd("PASS alice-pw"))!, /^\+OK/);
  for (const s of ["own one", "own two"]) {
    await c.cmd("XTND XMIT");
    c.send(`From: alice@example.test\r\nTo: dave@example.test\r\nSubject: ${s}\r\n\r\nhi\r\n.\r\n`);
    assert.match((await c.line())!, /^\+OK/);
  }
  await c.cmd("QUIT");
  await waitFor("dave's two messages", async () => (await local("dave")).length === 2);
  const add = await cliRun([
    "rpop",
    "add",
    "carol@example.test",
    "--host",
    "127.0.0.1",
    "--port",
    String(node.pop3[0]!.port),
    "--tls",
    "stls",
    "--insecure",
    "--user",
    "dave@example.test",
    "--password",
    "dave-pw",
    "--interval",
    "1",
  ]);
  assert.equal(add.code, 0, add.err);
  await waitFor("carol's two messages", async () => (await local("carol")).length === 2);
  await waitFor("dave's mailbox emptied", async () => (await local("dave")).length === 0);
  const carol = await local("carol");
  assert.ok(
    carol.every((m) =>
      m.startsWith("Return-Path: <alice@example.test>\r\nDelivered-To: carol@example.test\r\n"),
    ),
  );
  assert.ok(
    carol.some((m) => m.includes("Subject: own one")) && carol.some((m) => m.includes("Subject: own two")),
  );
});

test("refused credentials are logged as a problem and backed off; a bad entry is refused by the CLI", async () => {
  const add = await cliRun([
    "rpop",
    "add",
    "dave@example.test",
    "--host",
    "127.0.0.1",
    "--port",
    String(dovecotPort),
    "--tls",
    "none",
    "--user",
    "keeper",
    "--password",
    "wrong",
    "--interval",
    "1",
  ]);
  assert.equal(add.code, 0, add.err);
  const id = /rpop entry (\d+) added/.exec(add.out)![1]!;
  await waitFor("the refusal logged", () =>
    logs.records.some(
      (r) => r.tag === "RPOP" && r.text === "remote login refused, backing off" && r.fields["entry"] === id,
    ),
  );
  const r = logs.records.find(
    (x) => x.text === "remote login refused, backing off" && x.fields["entry"] === id,
  )!;
  assert.equal(r.level, 3);
  assert.ok(Number(r.fields["retryInMs"]) >= 1_800_000, "auth back-off starts at rpop.authBackoffSeconds");
  const bad = await cliRun([
    "rpop",
    "add",
    "dave@example.test",
    "--host",
    "bad host",
    "--user",
    "u",
    "--password",
    "p",
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /host/);
  const nobody = await cliRun(["rpop", "list", "nobody@example.test"]);
  assert.equal(nobody.code, 1);
  assert.match(nobody.err, /no account nobody@example\.test/);
  const usage = await cliRun(["rpop", "add", "dave@example.test", "--host", "h.test", "--user", "u"]);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--password/);
  // The smtp-sink saw nothing from RPOP: fetched mail is for local accounts only.
  assert.equal(await sink.count(), 0);
});
