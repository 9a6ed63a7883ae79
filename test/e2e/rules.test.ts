// Account rules end to end on one node: swaks sends, the mailbox channel applies the account's
// Sieve script and the seed-style rules, Maildir++ folders and flags appear on disk, vacation
// and redirects leave through the queue (source "rule") to Postfix's smtp-sink, a rule's reject
// bounces with one DSN, and a broken script stores the message in INBOX with a RULES log line.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { simpleParser } from "mailparser";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { openSqliteRuleStore } from "../../src/rules/sqlite-store.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeResolver } from "../kit/resolver.js";
import { startSink, type Sink } from "../kit/sink.js";
import { freePort } from "../kit/ports.js";
import { waitFor } from "../kit/load.js";

const run = promisify(execFile);
let dataDir = "";
let node: RunningNode;
let good: Sink;
let sets: string[] = [];
const logs = memoryLogSink();
const quiet = {
  out: () => undefined,
  err: (t: string) => void process.stderr.write(t + "\n"),
  env: {},
  cwd: tmpdir(),
};

const files = async (user: string, sub: string): Promise<{ name: string; text: string }[]> => {
  const dir = join(dataDir, "mail", "example.test", user, sub);
  const names = await readdir(dir).catch(() => [] as string[]);
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(join(dir, name), "utf8") })));
};

const swaks = (args: string[]) =>
  run("swaks", ["--server", `127.0.0.1:${node.smtp[0]!.port}`, "--timeout", "20", ...args], {
    timeout: 30_000,
  });

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mailyard-rules-e2e-"));
  const port = await freePort();
  good = await startSink([], { host: "127.0.0.2", port });
  const resolver = fakeResolver({
    mx: { "good.test": { kind: "ok", records: [{ exchange: "mx.good.test", priority: 10 }] } },
    addresses: { "mx.good.test": { kind: "ok", records: ["127.0.0.2"] } },
  });
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"], outbound: { port, starttls: false } },
    submission: { listen: ["127.0.0.1:0"] },
    submissions: { listen: [] },
    // Ports the OS picks: the POP3 default (2110) is another test's or session's to take.
    pop3: { listen: ["127.0.0.1:0"] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: logs, world: { resolver } });
  sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal(await cli(["domain", "add", "example.test", ...sets], quiet), 0);
  for (const u of ["alice", "bob", "carl", "dora"]) {
    assert.equal(await cli(["account", "add", `${u}@example.test`, "--password", "pw", ...sets], quiet), 0);
  }
  const script = join(dataDir, "alice.sieve");
  await writeFile(
    script,
    [
      'require ["fileinto", "imap4flags", "vacation"];',
      'if header :contains "subject" "sale" { fileinto :flags "\\\\Seen" "Junk/Sales"; stop; }',
      'vacation :days 1 :subject "Away" "I am away this week.";',
    ].join("\n"),
  );
  assert.equal(await cli(["sieve", "put", "alice@example.test", script, ...sets], quiet), 0);
  const rules = join(dataDir, "bob.rules");
  await writeFile(
    rules,
    '((9,spam,((From,is,"*@spam.test*")),(("Reject with","No spam here"))),(5,copy,((Subject,is,"*report*")),(("Redirect to",boss@good.test),("Add Header","X-Copied: yes"))))',
  );
  assert.equal(
    await cli(["rules", "set", "account", "bob@example.test", "--file", rules, ...sets], quiet),
    0,
  );
  const doraScript = join(dataDir, "dora.sieve");
  await writeFile(
    doraScript,
    [
      'require ["body", "fileinto", "vacation"];',
      'if body :text :contains "明日" { fileinto "Meetings"; }',
      'vacation "ただいま不在です。";',
    ].join("\n"),
  );
  assert.equal(await cli(["sieve", "put", "dora@example.test", doraScript, ...sets], quiet), 0);
  // carl's script is broken behind the validator's back: delivery must still store his mail
  const store = openSqliteRuleStore(join(dataDir, "mailyard.db"));
  await store.setSieve("carl@example.test", "this is not sieve;");
  await store.close();
});

after(async () => {
  await node?.stop();
  await good?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test("Sieve fileinto with flags stores into the Maildir++ subfolder's cur/ with the :2, info", async () => {
  await swaks(["--from", "shop@good.test", "--to", "alice@example.test", "--header", "Subject: Big sale"]);
  await waitFor(
    "a message in alice's .Junk.Sales/cur",
    async () => (await files("alice", ".Junk.Sales/cur")).length === 1,
  );
  const [m] = await files("alice", ".Junk.Sales/cur");
  assert.match(m!.name, /:2,S$/);
  assert.match(m!.text, /Subject: Big sale/);
  assert.deepEqual(await files("alice", "new"), [], "nothing in INBOX");
});

test("vacation answers a person once per period, and never mail marked automated", async () => {
  await swaks(["--from", "friend@good.test", "--to", "alice@example.test", "--header", "Subject: lunch?"]);
  await waitFor("the vacation reply at the sink", async () =>
    (await good.messages()).some((m) => m.includes("I am away this week.")),
  );
  await swaks([
    "--from",
    "friend@good.test",
    "--to",
    "alice@example.test",
    "--header",
    "Subject: lunch again?",
  ]);
  await swaks([
    "--from",
    "robot@good.test",
    "--to",
    "alice@example.test",
    "--header",
    "Subject: notification",
    "--add-header",
    "Auto-Submitted: auto-generated",
  ]);
  await waitFor("three messages in alice's INBOX", async () => (await files("alice", "new")).length === 3);
  const replies = (await good.messages()).filter((m) => m.includes("I am away this week."));
  assert.equal(replies.length, 1, "one reply for two messages from friend, none for the robot");
  assert.match(replies[0]!, /Auto-Submitted: auto-replied/);
  assert.ok(logs.records.some((r) => r.tag === "RULES" && r.text === "rule reply submitted"));
});

test("a seed rule's Reject with bounces the recipient: exactly one DSN to the sender", async () => {
  await swaks([
    "--from",
    "carl@example.test",
    "--to",
    "bob@example.test",
    "--header",
    "From: x@spam.test",
    "--header",
    "Subject: buy",
  ]);
  await waitFor("a DSN in carl's INBOX", async () =>
    (await files("carl", "new")).some((f) => f.text.includes("No spam here")),
  );
  const dsns = (await files("carl", "new")).filter((f) => f.text.includes("No spam here"));
  assert.equal(dsns.length, 1);
  assert.match(dsns[0]!.text, /5\.7\.1/);
  assert.deepEqual(await files("bob", "new"), []);
});

test("a seed rule's Redirect to goes out through the queue with the rule's Add Header; no INBOX copy", async () => {
  await swaks([
    "--from",
    "friend@good.test",
    "--to",
    "bob@example.test",
    "--header",
    "Subject: weekly report",
  ]);
  await waitFor("the redirected copy at the sink", async () =>
    (await good.messages()).some(
      (m) =>
        m.includes("weekly report") &&
        m.includes("X-Mailyard-Redirected-By: bob@example.test") &&
        m.includes("X-Copied: yes"),
    ),
  );
  // Redirect cancels the INBOX copy (as Sieve's redirect does)
  assert.deepEqual(await files("bob", "new"), []);
});

test("a broken Sieve script is logged (RULES) and skipped: the message is stored in INBOX", async () => {
  await swaks(["--from", "friend@good.test", "--to", "carl@example.test", "--header", "Subject: hello carl"]);
  await waitFor("carl's message in INBOX", async () =>
    (await files("carl", "new")).some((f) => f.text.includes("hello carl")),
  );
  assert.ok(logs.records.some((r) => r.tag === "RULES" && r.text === "sieve script invalid, skipped"));
});

test("server rules at enqueue: Reject with is a 5xx at DATA (the client's one report), Add Header on what is queued", async () => {
  const rules = join(dataDir, "server.rules");
  await writeFile(
    rules,
    '((9,block,((Return-Path,is,"*@blocked.test")),(("Reject with","Blocked sender"))),(1,mark,(),(("Add Header","X-Server-Rule: seen"))))',
  );
  assert.equal(await cli(["rules", "set", "server", "--file", rules, ...sets], quiet), 0);
  const refused = await swaks([
    "--from",
    "x@blocked.test",
    "--to",
    "carl@example.test",
    "--header",
    "Subject: blocked",
  ]).then(
    () => "",
    (e: { stdout?: string }) => e.stdout ?? "",
  );
  assert.match(refused, /<\*\* 550 5\.7\.1 Blocked sender/);
  await swaks(["--from", "friend@good.test", "--to", "carl@example.test", "--header", "Subject: tagged"]);
  await waitFor("carl's tagged message", async () =>
    (await files("carl", "new")).some((f) => f.text.includes("Subject: tagged")),
  );
  const [tagged] = (await files("carl", "new")).filter((f) => f.text.includes("Subject: tagged"));
  assert.match(tagged!.text, /X-Server-Rule: seen/);
  assert.equal((await files("carl", "new")).filter((f) => f.text.includes("blocked")).length, 0);
  assert.equal((await good.messages()).filter((m) => m.includes("blocked.test")).length, 0, "no DSN from us");
  assert.equal(
    await cli(["rules", "set", "server", "--file", join(dataDir, "empty.rules"), ...sets], quiet),
    1,
  );
});

test("a Shift_JIS message is filed by body :text, and the vacation reply to it is ASCII MIME sent without SMTPUTF8", async () => {
  // 日本語の件名 (B-encoded Shift_JIS) and 会議は明日です (quoted-printable Shift_JIS), bytes from another encoder
  const data = Buffer.concat([
    Buffer.from(
      "From: tanaka@good.test\r\nTo: dora@example.test\r\nSubject: =?Shift_JIS?B?k/qWe4zqgsyMj5a8?=\r\n" +
        "Message-ID: <sjis.1@good.test>\r\nMIME-Version: 1.0\r\n" +
        "Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
    ),
    // Quoted-printable: swaks cannot declare BODY=8BITMIME, and undeclared 8-bit is refused (5.6.0)
    Buffer.from("=89=EF=8B=63=82=CD=96=BE=93=FA=82=C5=82=B7"),
    Buffer.from("\r\n"),
  ]);
  const file = join(dataDir, "sjis.eml");
  await writeFile(file, data);
  await swaks(["--from", "tanaka@good.test", "--to", "dora@example.test", "--data", `@${file}`]);
  await waitFor(
    "the message in dora's Meetings folder",
    async () => (await files("dora", ".Meetings/new")).length === 1,
  );
  let reply: string | undefined;
  await waitFor("the vacation reply at the sink", async () => {
    reply = (await good.messages()).find((m) => m.includes("<sjis.1@good.test>") && /Auto-Submitted/.test(m));
    return reply !== undefined;
  });
  // smtp-sink writes the MAIL FROM arguments it was given into the dump
  assert.match(reply!, /^X-Mail-Args: /m);
  assert.doesNotMatch(reply!, /SMTPUTF8/i);
  const parsed = await simpleParser(Buffer.from(reply!, "utf8"));
  assert.equal(parsed.subject, "Auto: 日本語の件名");
  assert.equal(parsed.text?.trim(), "ただいま不在です。");
  assert.equal(parsed.headers.get("auto-submitted"), "auto-replied");
  assert.equal(parsed.inReplyTo, "<sjis.1@good.test>");
  // eslint-disable-next-line no-control-regex
  assert.match(reply!, /^[\u0000-\u007f]*$/, "every byte of the reply is ASCII");
});
