// POP3 on a whole single node, in-process: XTND XMIT delivers to a local account (lands in its
// Maildir) and to a remote address (reaches Postfix's smtp-sink through smtp.forwardTo), with
// the source tag pop3 in the logs and in the queued envelope; fetchmail, a real POP3 client,
// fetches over STLS with UIDL memory (keep mode fetches nothing new the second time) and then
// deletes (the Maildir is empty afterwards).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { memoryLogSink } from "../kit/log.js";
import { startSink, type Sink } from "../kit/sink.js";
import { waitFor } from "../kit/load.js";
import { Pop3Client } from "../kit/pop3-client.js";

let dataDir = "";
let node: RunningNode;
let sink: Sink;
let cliSets: string[] = [];
const logs = memoryLogSink();

const mailbox = async (user: string): Promise<string[]> => {
  const out: string[] = [];
  for (const sub of ["new", "cur"]) {
    const dir = join(dataDir, "mail", "example.test", user, sub);
    for (const n of (await readdir(dir).catch(() => [])).sort())
      out.push(await readFile(join(dir, n), "utf8"));
  }
  return out;
};

const cliOut = async (args: string[]): Promise<string> => {
  let out = "";
  const code = await cli([...args, ...cliSets], {
    out: (s: string) => (out += s),
    err: () => undefined,
    env: {},
    cwd: dataDir,
  });
  assert.equal(code, 0, `mailyard ${args.join(" ")}`);
  return out;
};

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mailyard-pop3-node-"));
  sink = await startSink();
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    // overQuota queue: mail for the full account waits in the queue (reject would bounce it)
    smtp: {
      listen: ["127.0.0.1:0"],
      forwardTo: [`127.0.0.1:${sink.port}`],
      outbound: { starttls: false },
      overQuota: "queue",
    },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: ["127.0.0.1:0"] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: logs });
  cliSets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal(await cli(["domain", "add", "example.test", ...cliSets]), 0);
  assert.equal(await cli(["account", "add", "alice@example.test", "--password", "s3cret", ...cliSets]), 0);
  assert.equal(await cli(["account", "add", "bob@example.test", "--password", "bobpw", ...cliSets]), 0);
  assert.equal(
    await cli(["account", "add", "full@example.test", "--password", "x", "--quota", "1", ...cliSets]),
    0,
  );
});

after(async () => {
  await node?.stop();
  await sink?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** Log in over STLS (the default pop3.authRequiresTls) and send one message by XTND XMIT. */
async function xmit(headers: string, body = "hello over POP3\r\n"): Promise<string> {
  const c = await Pop3Client.connect(node.pop3[0]!.port);
  assert.match((await c.line())!, /^\+OK/);
  assert.match((await c.cmd("USER alice@example.test"))!, /^-ERR \[AUTH\] use STLS first/);
  assert.equal(await c.cmd("STLS"), "+OK Begin TLS negotiation");
  await c.upgrade();
  await c.cmd("USER alice@example.test");
  assert.match((await c.cmd("PASS s3cret"))!, /^\+OK/);
  assert.match((await c.cmd("XTND XMIT"))!, /^\+OK/);
  c.send(`From: Alice <alice@example.test>\r\n${headers}\r\n\r\n${body}.\r\n`);
  const answer = (await c.line())!;
  assert.match(answer, /^\+OK message submitted as (\S+)/);
  await c.cmd("QUIT");
  return /as (\S+)/.exec(answer)![1]!;
}

test("XTND XMIT delivers to a local account's Maildir and to a remote address at smtp-sink", async () => {
  const id = await xmit(
    "To: bob@example.test, far@remote.test\r\nBcc: hidden@remote.test\r\nSubject: xmit both",
  );
  await waitFor("bob's copy", async () => (await mailbox("bob")).length === 1);
  await waitFor("two copies at the sink", async () => (await sink.count()) >= 1);
  const [local] = await mailbox("bob");
  assert.match(local!, /^Return-Path: <alice@example\.test>\r\nDelivered-To: bob@example\.test\r\n/);
  assert.match(local!, /Subject: xmit both/);
  assert.ok(!/^Bcc:/im.test(local!), "Bcc stripped from the stored copy");
  const dumps = await sink.messages();
  const remote = dumps.join("\n");
  assert.match(remote, /Subject: xmit both/);
  assert.match(remote, /far@remote\.test/);
  assert.match(remote, /hidden@remote\.test/, "the Bcc recipient got it too (envelope)");
  assert.ok(!/^Bcc:/im.test(remote.replace(/^X-Rcpt-Args.*$/gim, "")));
  // The source tag, in the POP session log and in the Submitter's.
  assert.ok(
    logs.records.some(
      (r) =>
        r.tag === "POP" &&
        r.text === "message submitted" &&
        r.fields["source"] === "pop3" &&
        r.fields["id"] === id,
    ),
  );
  assert.ok(
    logs.records.some((r) => r.tag === "SUBMIT" && r.fields["source"] === "pop3" && r.fields["id"] === id),
  );
});

test("the queued envelope of an XTND XMIT message carries source pop3 and the account as sender", async () => {
  // Over quota: the local delivery defers, so the message stays in the queue to be looked at.
  const id = await xmit("To: full@example.test\r\nSubject: waits", "x".repeat(100) + "\r\n");
  const list = async () =>
    JSON.parse(await cliOut(["queue", "list", "--json"])) as { id: string; source: string; from: string }[];
  await waitFor("the message in the queue", async () => (await list()).some((m) => m.id === id));
  const entry = (await list()).find((m) => m.id === id)!;
  assert.equal(entry.source, "pop3");
  assert.equal(JSON.stringify(entry).includes("alice@example.test"), true, JSON.stringify(entry));
});

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    execFile(cmd, args, { timeout: 60_000, env }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ code, out: stdout + stderr });
    });
  });

test("fetchmail fetches over STLS, remembers UIDLs in keep mode, and deletes in flush mode", async () => {
  const home = await mkdtemp(join(tmpdir(), "mailyard-fetchmail-"));
  try {
    const out = join(home, "out");
    await writeFile(out, "");
    // Two messages for alice, sent by bob through XTND XMIT... by alice to herself is simplest.
    await xmit("To: alice@example.test\r\nSubject: fetch one");
    await xmit("To: alice@example.test\r\nSubject: fetch two");
    await waitFor("two messages for alice", async () => (await mailbox("alice")).length === 2);
    const rc = (keep: boolean) =>
      [
        "set no syslog",
        `poll 127.0.0.1 service ${node.pop3[0]!.port} protocol POP3 uidl timeout 30`,
        `  user "alice@example.test" there with password "s3cret" is "root" here`,
        `  sslproto "tls1.2+" no sslcertck`,
        `  mda "/bin/sh -c 'cat >> ${out}; echo ===END=== >> ${out}'"`,
        keep ? "  keep" : "  no keep fetchall",
        "",
      ].join("\n");
    const rcFile = join(home, "fetchmailrc");
    const env = { PATH: process.env["PATH"] ?? "", HOME: home, FETCHMAILHOME: home };
    await writeFile(rcFile, rc(true));
    await chmod(rcFile, 0o600);
    const first = await run("fetchmail", ["-f", rcFile, "-v"], env);
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, /STLS/);
    let got = await readFile(out, "utf8");
    assert.equal(got.split("===END===").length - 1, 2, got);
    assert.match(got, /Subject: fetch one/);
    assert.match(got, /Subject: fetch two/);
    // UIDL memory: nothing new the second time (fetchmail exits 1 for "no mail").
    const second = await run("fetchmail", ["-f", rcFile], env);
    assert.equal(second.code, 1, second.out);
    assert.equal((await readFile(out, "utf8")).split("===END===").length - 1, 2);
    assert.equal((await mailbox("alice")).length, 2, "keep mode left them on the server");

    await writeFile(rcFile, rc(false));
    const flush = await run("fetchmail", ["-f", rcFile], env);
    assert.equal(flush.code, 0, flush.out);
    got = await readFile(out, "utf8");
    assert.equal(got.split("===END===").length - 1, 4, got);
    assert.deepEqual(await mailbox("alice"), [], "flush mode deleted them at QUIT");
    assert.ok(logs.records.some((r) => r.tag === "POP" && r.text === "update" && r.fields["removed"] === 2));
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
