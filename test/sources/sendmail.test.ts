// `sendmail` as cron and scripts call it: the installed entry point (bin/sendmail.js) on PATH
// under the name sendmail, run as a real process by a shell script written for the real
// `sendmail -t -i` (a here-doc message). It submits to the running node (in-process here),
// which delivers into the Maildir and to Postfix's smtp-sink (smtp.forwardTo). Exit codes are
// sysexits.h; with no node running the message waits in Submitted/ and is delivered once a
// node starts on that data dir, still tagged `pipe`. s-nail, a real mail(1), calls it as its MTA.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startSink, type Sink } from "../kit/sink.js";
import { freePort } from "../kit/ports.js";
import { waitFor } from "../kit/load.js";
import { prepareDataDir, startRig, type Rig } from "./rig.js";

const user = userInfo().username;
const root = fileURLToPath(new URL("../../../", import.meta.url));
let sink: Sink;
let rig: Rig;
let binDir: string;

/** Run a command line in sh with `sendmail` on PATH and the node chosen by MAILYARD_* variables. */
function sh(
  script: string,
  env: Record<string, string>,
  stdin = "",
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", script], {
      cwd: tmpdir(),
      env: { PATH: `${binDir}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: tmpdir(), ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, out, err }));
    child.stdin.end(stdin);
  });
}

const nodeEnv = (r: { dataDir: string; port: number }): Record<string, string> => ({
  MAILYARD_DATADIR: r.dataDir,
  MAILYARD_HTTP_LISTEN: `127.0.0.1:${r.port}`,
  MAILYARD_HOSTNAME: "mx.example.test",
  MAILYARD_LOG_STDOUT: "false",
});

before(async () => {
  binDir = await mkdtemp(join(tmpdir(), "mailyard-bin-"));
  await symlink(join(root, "bin/sendmail.js"), join(binDir, "sendmail"));
  sink = await startSink();
  rig = await startRig(null, { forwardPort: sink.port });
});

after(async () => {
  await rig?.stop();
  await sink?.stop();
  if (rig !== undefined) await rm(rig.dataDir, { recursive: true, force: true });
  if (binDir !== undefined) await rm(binDir, { recursive: true, force: true });
});

test("a cron-style script for `sendmail -t -i` works unchanged: local, remote and Bcc copies, tagged pipe", async () => {
  const script = join(binDir, "nightly-report.sh");
  await writeFile(
    script,
    `#!/bin/sh
# Written for the real sendmail, as a crontab entry runs it.
status=ok
sendmail -t -i <<EOF
From: Backup Job <root@example.test>
To: bob@example.test, carol@remote.test
Bcc: alice@example.test
Subject: nightly backup: $status

The backup finished.
.
This line comes after a lone dot, which -i keeps.
EOF
echo "exit=$?"
`,
  );
  await chmod(script, 0o755);
  const r = await sh(script, nodeEnv({ dataDir: rig.dataDir, port: rig.node.http.port }));
  assert.equal(r.err, "");
  assert.equal(r.out.trim(), "exit=0");

  await waitFor(
    "bob's and alice's copies",
    async () => (await rig.mailbox("bob")).length === 1 && (await rig.mailbox("alice")).length === 1,
  );
  const [bob] = await rig.mailbox("bob");
  assert.ok(
    bob!.startsWith(`Return-Path: <${user}@mx.example.test>\r\n`),
    "the envelope sender is the user running it",
  );
  assert.match(bob!, /^Subject: nightly backup: ok\r$/m);
  assert.match(bob!, /^From: Backup Job <root@example\.test>\r$/m);
  assert.match(bob!, /^Message-ID: <[0-9a-f]+@mx\.example\.test>\r$/m);
  assert.match(bob!, /^Date: /m);
  assert.match(bob!, /\r\n\.\r\nThis line comes after a lone dot/);
  assert.match(bob!, /with local \(sendmail\)/);
  const [alice] = await rig.mailbox("alice");
  assert.doesNotMatch(alice!, /^Bcc:/im, "the Bcc copy has no Bcc field");
  assert.doesNotMatch(bob!, /alice@example\.test/);

  await waitFor("carol's copy at smtp-sink", async () => (await sink.count()) === 1);
  const [remote] = await sink.messages();
  assert.match(remote!, /^X-Rcpt-Args: <carol@remote\.test>$/m);
  assert.doesNotMatch(remote!, /^Bcc:/im);

  const logged = rig.logs.records.filter((x) => x.tag === "PIPE" && x.text === "submitted");
  assert.equal(logged.length, 1);
  assert.equal(logged[0]!.fields["source"], "pipe");
  assert.ok(
    rig.logs.records.some(
      (x) =>
        x.tag === "SUBMIT" && x.fields["id"] === logged[0]!.fields["id"] && x.fields["source"] === "pipe",
    ),
  );
  const metrics = await (await fetch(`${rig.base}/metrics`)).text();
  assert.match(metrics, /^mailyard_messages_received_total\{source="pipe"\} 1$/m, "counted under its source");
});

test("-f sets the envelope sender, -F the From: name; recipients as arguments; without -i a lone dot ends the message", async () => {
  const before = (await rig.mailbox("bob")).length;
  const sinkBefore = await sink.count();
  const r = await sh(
    "sendmail -f bounces@example.test -F 'Cron Daemon' -odi -oem bob@example.test dave@remote.test",
    nodeEnv({ dataDir: rig.dataDir, port: rig.node.http.port }),
    "Subject: args\n\nfirst part\n.\nnever sent\n",
  );
  assert.equal(r.code, 0, r.err);
  await waitFor("bob's copy", async () => (await rig.mailbox("bob")).length === before + 1);
  const copy = (await rig.mailbox("bob")).find((m) => m.includes("Subject: args"))!;
  assert.match(copy, /^Return-Path: <bounces@example\.test>\r\n/);
  assert.match(copy, /^From: "Cron Daemon" <bounces@example\.test>\r$/m);
  assert.match(copy, /first part/);
  assert.doesNotMatch(copy, /never sent/);
  await waitFor("dave's copy at smtp-sink", async () => (await sink.count()) === sinkBefore + 1);
  const remote = (await sink.messages()).find((m) => m.includes("Subject: args"))!;
  assert.match(remote, /^X-Mail-Args: <bounces@example\.test>/m, "the envelope sender at the remote peer");
});

test("s-nail (mail(1)) with sendmail as its MTA: -i -f SENDER -- recipients, Cc and Bcc delivered", async () => {
  const before = (await rig.mailbox("alice")).length;
  const sinkBefore = await sink.count();
  const r = await sh(
    `s-nail -n -S mta=${join(binDir, "sendmail")} -S sendwait -s 'from s-nail' -c alice@example.test -b frank@remote.test -r ops@example.test bob@example.test`,
    nodeEnv({ dataDir: rig.dataDir, port: rig.node.http.port }),
    "written by mail(1)\n",
  );
  assert.equal(r.code, 0, r.err);
  await waitFor("alice's Cc copy", async () => (await rig.mailbox("alice")).length === before + 1);
  await waitFor("frank's Bcc copy at smtp-sink", async () => (await sink.count()) === sinkBefore + 1);
  const copy = (await rig.mailbox("alice")).find((m) => m.includes("Subject: from s-nail"))!;
  assert.match(copy, /^Return-Path: <ops@example\.test>\r\n/);
  assert.match(copy, /User-Agent: s-nail/);
  assert.doesNotMatch(copy, /frank@remote\.test/, "the Bcc address is in no copy");
  await waitFor("bob's copy", async () =>
    (await rig.mailbox("bob")).some((m) => m.includes("Subject: from s-nail")),
  );
});

test("exit codes: 65 without recipients, 64 for an unknown flag, 65 for a bad address", async () => {
  const env = nodeEnv({ dataDir: rig.dataDir, port: rig.node.http.port });
  const none = await sh("sendmail -t -i", env, "Subject: nobody\n\nx\n");
  assert.equal(none.code, 65);
  assert.match(none.err, /no recipients/);
  const flag = await sh("sendmail -Q bob@example.test", env, "x\n");
  assert.equal(flag.code, 64);
  assert.match(flag.err, /unknown option -Q/);
  const mode = await sh("sendmail -bp", env, "");
  assert.equal(mode.code, 64);
  const bad = await sh("sendmail 'bob@@example.test'", env, "x\n");
  assert.equal(bad.code, 65);
  const viaMailyard = await sh(`${process.execPath} ${join(root, "bin/mailyard.js")} sendmail -Z`, env, "");
  assert.equal(viaMailyard.code, 64, "mailyard sendmail is the same program");
});

test("with no node running the message waits in Submitted/ and is delivered once a node starts", async (t) => {
  const dataDir = await prepareDataDir("mailyard-sendmail-down-");
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const r = await sh(
    "sendmail -t -i",
    nodeEnv({ dataDir, port }),
    "To: bob@example.test\nBcc: erin@remote.test\nSubject: while down\n\nkept\n",
  );
  assert.equal(r.code, 0, r.err);
  const files = await readdir(join(dataDir, "Submitted"));
  assert.equal(files.length, 1);
  assert.match(files[0]!, /\.sub$/);
  const sub = await readFile(join(dataDir, "Submitted", files[0]!), "utf8");
  assert.ok(sub.startsWith(`Envelope-From: <${user}@mx.example.test>\r\n`));
  assert.match(sub, /^Envelope-To: <bob@example\.test>\r\nEnvelope-To: <erin@remote\.test>\r\n/m);
  assert.doesNotMatch(sub, /^Bcc:/im);

  const sinkBefore = await sink.count();
  const later = await startRig(t, { dataDir, forwardPort: sink.port });
  await waitFor("bob's copy after the start", async () => (await later.mailbox("bob")).length === 1);
  await waitFor("erin's copy at smtp-sink", async () => (await sink.count()) === sinkBefore + 1);
  const [copy] = await later.mailbox("bob");
  assert.match(copy!, /Subject: while down/);
  assert.doesNotMatch(copy!, /Envelope-|X-Mailyard-Source/);
  await waitFor("the file is gone", async () => (await readdir(join(dataDir, "Submitted"))).length === 0);
  const logged = later.logs.records.find((x) => x.tag === "PIPE" && x.text === "submitted");
  assert.equal(logged?.fields["source"], "pipe", "still the sendmail source");
});

test("the fallback file cannot be made: 73 (EX_CANTCREAT)", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-sendmail-ro-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  // The Submitted folder's place is taken by a file: no folder can be made there.
  await writeFile(join(dataDir, "Submitted"), "not a folder");
  const r = await sh("sendmail bob@example.test", nodeEnv({ dataDir, port: await freePort() }), "x\n");
  assert.equal(r.code, 73, r.err);
});
