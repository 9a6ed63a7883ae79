// The submission API on a real node in-process: compose (with an attachment, parsed back with
// mailparser) and raw, delivered into the Maildir and to a remote SMTP peer (test/kit's fake
// server through smtp.forwardTo, which records the envelope), Bcc delivered but never in the
// message, the `api` tag in the envelope and the logs, idempotency keys, and the refusals: 401,
// 400 naming the field, 403, 413, 415, 429 (logins), 503 (queue full). Real sockets, real files.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { systemClock } from "../../src/world/clock.js";
import { startFakeSmtpServer, type FakeSmtpServer } from "../kit/fake-smtp-server.js";
import { waitFor } from "../kit/load.js";
import { prepareDataDir, startRig, type Rig } from "./rig.js";

let peer: FakeSmtpServer;
let rig: Rig;

const basic = (user: string, pw: string): string =>
  `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;
const ALICE = basic("alice@example.test", "alice-pw");

async function post(
  path: string,
  body: unknown,
  o: { auth?: string | null; key?: string; type?: string; base?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { "content-type": o.type ?? "application/json" };
  const auth = o.auth === undefined ? ALICE : o.auth;
  if (auth !== null) headers["authorization"] = auth;
  if (o.key !== undefined) headers["idempotency-key"] = o.key;
  const r = await fetch(`${o.base ?? rig.base}${path}`, {
    method: "POST",
    headers,
    body: typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown>, headers: r.headers };
}

before(async () => {
  // RCPT for defer@remote.test is answered 451: that message stays in the queue to be looked at.
  peer = await startFakeSmtpServer({
    script: (line) => (/^RCPT TO:<defer@/i.test(line) ? "451 4.3.0 try later" : undefined),
  });
  rig = await startRig(null, {
    forwardPort: peer.port,
    extra: {
      smtp: {
        listen: ["127.0.0.1:0"],
        forwardTo: [`127.0.0.1:${peer.port}`],
        outbound: { starttls: false },
        maxMessageSize: 1_000_000,
      },
      auth: { maxFailures: 100, maxFailuresPerAddress: 100 },
    },
  });
});

after(async () => {
  await rig?.stop();
  await peer?.close();
  if (rig !== undefined) await rm(rig.dataDir, { recursive: true, force: true });
});

test("compose with an attachment: delivered locally and remotely, Bcc delivered but not in the message, tagged api", async () => {
  const attachment = Buffer.from("col1,col2\n1,2\n");
  const r = await post("/submit/v1/messages", {
    from: "Alice <alice@example.test>",
    to: ["Bob <bob@example.test>", "carol@remote.test"],
    bcc: "dave@remote.test",
    subject: "Report ✓",
    text: "See the attached report.",
    html: "<p>See the attached <b>report</b>.</p>",
    attachments: [
      { filename: "report.csv", contentType: "text/csv", content: attachment.toString("base64") },
    ],
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.equal(r.body["node"], "node1");
  assert.equal(r.body["remote"], false);
  assert.equal(typeof r.body["id"], "string");
  assert.deepEqual(r.body["recipients"], ["bob@example.test", "carol@remote.test", "dave@remote.test"]);

  await waitFor("bob's copy", async () => (await rig.mailbox("bob")).length === 1);
  const [stored] = await rig.mailbox("bob");
  const mail = await simpleParser(stored!);
  assert.equal(mail.subject, "Report ✓");
  assert.equal(mail.text?.trim(), "See the attached report.");
  assert.match(String(mail.html), /<b>report<\/b>/);
  assert.equal(mail.attachments.length, 1);
  assert.equal(mail.attachments[0]!.filename, "report.csv");
  assert.equal(mail.attachments[0]!.contentType, "text/csv");
  assert.deepEqual(mail.attachments[0]!.content, attachment);
  assert.equal(mail.headers.get("bcc"), undefined);
  assert.doesNotMatch(stored!, /dave@remote\.test/);
  assert.match(stored!, /^Return-Path: <alice@example\.test>\r\n/);
  assert.match(
    stored!,
    /Received: from \[127\.0\.0\.1\] by mx\.example\.test \(Mailyard\) with HTTP \(submission API, alice@example\.test\);/,
  );

  await waitFor("the remote copy", () => peer.messages.length === 1);
  const remote = peer.messages[0]!;
  assert.equal(remote.mailFrom, "alice@example.test");
  assert.deepEqual([...remote.rcptTo].sort(), ["carol@remote.test", "dave@remote.test"]);
  assert.doesNotMatch(remote.data.toString(), /^Bcc:|dave@/im);
  assert.match(remote.data.toString(), /filename=report\.csv/);

  const logged = rig.logs.records.find(
    (x) => x.tag === "API" && x.text === "submitted" && x.fields["id"] === r.body["id"],
  );
  assert.ok(logged, "API log record for the message");
  assert.equal(logged.fields["source"], "api");
  assert.equal(logged.fields["user"], "alice@example.test");
  const submit = rig.logs.records.find((x) => x.tag === "SUBMIT" && x.fields["id"] === r.body["id"]);
  assert.equal(submit?.fields["source"], "api", "the envelope's source as the submitter saw it");
});

test("the envelope of a queued API message carries source api and the account", async () => {
  const r = await post("/submit/v1/messages", {
    from: "alice@example.test",
    to: "defer@remote.test",
    text: "later",
  });
  assert.equal(r.status, 202);
  const id = String(r.body["id"]);
  await waitFor("the deferral", async () => {
    const e = (await rig.admin(`/api/queue/${id}`)) as { recipients?: { attempts: number }[] };
    return (e.recipients?.[0]?.attempts ?? 0) > 0;
  });
  const entry = (await rig.admin(`/api/queue/${id}`)) as Record<string, unknown>;
  assert.equal(entry["source"], "api");
  assert.equal(entry["from"], "alice@example.test");
});

test("raw: recipients from To/Cc/Bcc, Bcc removed; or given, with the header left alone", async () => {
  const message =
    "From: Alice <alice@example.test>\r\nTo: carol@remote.test\r\nBcc: bob@example.test\r\nSubject: raw one\r\n\r\nraw body\r\n";
  const before = (await rig.mailbox("bob")).length;
  const sent = peer.messages.length;
  const r = await post("/submit/v1/raw", message, { type: "message/rfc822" });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  assert.deepEqual(r.body["recipients"], ["carol@remote.test", "bob@example.test"]);
  await waitFor("bob's Bcc copy", async () => (await rig.mailbox("bob")).length === before + 1);
  const copy = (await rig.mailbox("bob")).find((m) => m.includes("Subject: raw one"))!;
  assert.doesNotMatch(copy, /^Bcc:/im);
  assert.match(copy, /^Message-ID: <[0-9a-f]+@mx\.example\.test>\r$/m, "a Message-ID was added");
  assert.match(copy, /^Date: /m);
  await waitFor("the remote copy", () => peer.messages.length === sent + 1);
  assert.doesNotMatch(peer.messages[sent]!.data.toString(), /Bcc:|bob@example/);

  // JSON form with explicit envelope recipients: To/Cc/Bcc do not count.
  const j = await post("/submit/v1/raw", {
    message: Buffer.from("To: nobody@remote.test\r\nSubject: raw two\r\n\r\nx\r\n").toString("base64"),
    to: ["bob@example.test"],
  });
  assert.equal(j.status, 202, JSON.stringify(j.body));
  assert.deepEqual(j.body["recipients"], ["bob@example.test"]);
  await waitFor("raw two", async () =>
    (await rig.mailbox("bob")).some((m) => m.includes("Subject: raw two")),
  );
  const two = (await rig.mailbox("bob")).find((m) => m.includes("Subject: raw two"))!;
  assert.match(two, /^From: alice@example\.test\r$/m, "From: added for the account");
});

test("an Idempotency-Key makes a retry send nothing and answer the same; another body with it is 422", async () => {
  const body = { from: "alice@example.test", to: "bob@example.test", subject: "once only", text: "1" };
  const first = await post("/submit/v1/messages", body, { key: "order-42" });
  const again = await post("/submit/v1/messages", body, { key: "order-42" });
  assert.equal(first.status, 202);
  assert.equal(again.status, 202);
  assert.deepEqual(again.body, first.body);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  const other = await post("/submit/v1/messages", { ...body, text: "2" }, { key: "order-42" });
  assert.equal(other.status, 422);
  assert.equal(other.body["field"], "Idempotency-Key");

  // Concurrent duplicates: one message, one answer.
  const same = { ...body, subject: "concurrent" };
  const both = await Promise.all([1, 2, 3].map(() => post("/submit/v1/messages", same, { key: "order-43" })));
  assert.deepEqual(
    both.map((b) => b.status),
    [202, 202, 202],
  );
  assert.equal(new Set(both.map((b) => b.body["id"])).size, 1);

  // Another account's key space is its own.
  const bobs = await post(
    "/submit/v1/messages",
    { ...body, from: "bob@example.test" },
    { key: "order-42", auth: basic("bob@example.test", "bob-pw") },
  );
  assert.equal(bobs.status, 202);
  assert.notEqual(bobs.body["id"], first.body["id"]);

  await waitFor(
    "deliveries",
    async () =>
      (await rig.mailbox("bob")).filter((m) => /Subject: (once only|concurrent)/.test(m)).length >= 3,
  );
  const copies = (await rig.mailbox("bob")).filter((m) => m.includes("Subject: once only"));
  assert.equal(copies.length, 2, "alice's once plus bob's own");
  assert.equal((await rig.mailbox("bob")).filter((m) => m.includes("Subject: concurrent")).length, 1);

  // A request refused for its body forgets the key: fixing the body and retrying sends.
  const bad = await post(
    "/submit/v1/messages",
    { from: "alice@example.test", to: "bob@", text: "x" },
    { key: "order-44" },
  );
  assert.equal(bad.status, 400);
  const good = await post(
    "/submit/v1/messages",
    { from: "alice@example.test", to: "bob@example.test", text: "x" },
    { key: "order-44b" },
  );
  assert.equal(good.status, 202);
});

test("authentication: 401 without or with wrong credentials", async () => {
  const none = await post(
    "/submit/v1/messages",
    { from: "alice@example.test", to: "bob@example.test", text: "x" },
    { auth: null },
  );
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate") ?? "", /^Basic /);
  const wrong = await post(
    "/submit/v1/messages",
    { from: "alice@example.test", to: "bob@example.test", text: "x" },
    { auth: basic("alice@example.test", "nope") },
  );
  assert.equal(wrong.status, 401);
  const token = await post("/submit/v1/messages", {}, { auth: "Bearer abc" });
  assert.equal(token.status, 401);
  assert.ok(
    rig.logs.records.some(
      (x) => x.tag === "API" && x.text === "auth failed" && x.fields["user"] === "alice@example.test",
    ),
  );
});

test("bad input: 400 naming the field; 403 for another's From; 413; 415; 404/405", async () => {
  const cases: [unknown, string][] = [
    [{ to: "bob@example.test", text: "x" }, "from"],
    [{ from: "alice@example.test", to: ["bob@example.test", "not-an-address"], text: "x" }, "to[1]"],
    [{ from: "alice@example.test", to: "bob@example.test", text: "x", colour: "red" }, "colour"],
    [
      {
        from: "alice@example.test",
        to: "bob@example.test",
        attachments: [{ filename: "a", content: "***" }],
      },
      "attachments[0].content",
    ],
    [{ from: "alice@example.test", to: "bob@example.test", subject: "two\r\nlines", text: "x" }, "subject"],
    [{ from: "alice@example.test", text: "nobody" }, "to"],
  ];
  for (const [body, fieldName] of cases) {
    const r = await post("/submit/v1/messages", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body["field"], fieldName, JSON.stringify(r.body));
    assert.match(String(r.body["error"]), new RegExp(fieldName.replace(/[[\].]/g, "\\$&")));
  }
  const notJson = await post("/submit/v1/messages", "{nope");
  assert.equal(notJson.status, 400);
  assert.match(String(notJson.body["error"]), /not JSON/);

  const asBob = await post("/submit/v1/messages", {
    from: "bob@example.test",
    to: "bob@example.test",
    text: "x",
  });
  assert.equal(asBob.status, 403);
  assert.equal(asBob.body["field"], "from");
  const viaAlias = await post("/submit/v1/messages", {
    from: "info@example.test",
    to: "bob@example.test",
    text: "x",
  });
  assert.equal(viaAlias.status, 202, "an alias of the account may be used");
  const rawAsBob = await post(
    "/submit/v1/raw",
    "From: bob@example.test\r\nTo: bob@example.test\r\n\r\nx\r\n",
    { type: "message/rfc822" },
  );
  assert.equal(rawAsBob.status, 403);

  const big = await post("/submit/v1/raw", `To: bob@example.test\r\n\r\n${"x".repeat(1_100_000)}\r\n`, {
    type: "message/rfc822",
  });
  assert.equal(big.status, 413);
  const bigCompose = await post("/submit/v1/messages", {
    from: "alice@example.test",
    to: "bob@example.test",
    attachments: [{ filename: "big.bin", content: Buffer.alloc(900_000).toString("base64") }],
  });
  assert.equal(bigCompose.status, 413, "over smtp.maxMessageSize once encoded");

  const type = await post("/submit/v1/raw", "x", { type: "text/plain" });
  assert.equal(type.status, 415);
  const unknown = await post("/submit/v1/other", {});
  assert.equal(unknown.status, 404);
  const get = await fetch(`${rig.base}/submit/v1/messages`, { headers: { authorization: ALICE } });
  assert.equal(get.status, 405);
  // The admin API is untouched: its paths still want the bearer token.
  assert.equal((await fetch(`${rig.base}/api/queue`, { headers: { authorization: ALICE } })).status, 401);
});

test("the API's From: rule is SMTP's sender ownership: grants count, and every From: author must be owned", async () => {
  const dir = openSqliteDirectory(join(rig.dataDir, "mailyard.db"), systemClock);
  await dir.grantSender("alice@example.test", "@shared.test");
  await dir.close();
  const granted = await post("/submit/v1/messages", {
    from: "desk@shared.test",
    to: "bob@example.test",
    text: "x",
  });
  assert.equal(granted.status, 202, JSON.stringify(granted.body));
  const twoAuthors = await post(
    "/submit/v1/raw",
    "From: alice@example.test, bob@example.test\r\nTo: bob@example.test\r\n\r\nx\r\n",
    { type: "message/rfc822" },
  );
  assert.equal(twoAuthors.status, 403);
  assert.match(String(twoAuthors.body["error"]), /may not send as bob@example\.test/);
});

test("failed logins are throttled (429, Retry-After) and a full queue is a 503", async (t) => {
  const peer2 = await startFakeSmtpServer({
    script: (line) => (/^RCPT/i.test(line) ? "451 4.3.0 later" : undefined),
  });
  t.after(() => peer2.close());
  const small = await startRig(t, {
    forwardPort: peer2.port,
    extra: {
      auth: { maxFailures: 3, maxFailuresPerAddress: 3, lockoutSeconds: 600 },
      queue: { maxMessages: 1, firstRetrySeconds: 3600 },
    },
  });
  for (let i = 0; i < 3; i++) {
    const r = await post(
      "/submit/v1/messages",
      {},
      { base: small.base, auth: basic("bob@example.test", "guess" + i) },
    );
    assert.equal(r.status, 401);
  }
  const throttled = await post(
    "/submit/v1/messages",
    { from: "bob@example.test", to: "x@remote.test", text: "x" },
    { base: small.base, auth: basic("bob@example.test", "bob-pw") },
  );
  assert.equal(throttled.status, 429, "even the right password waits");
  assert.ok(Number(throttled.headers.get("retry-after")) > 0);

  // The client address is throttled too, whichever account it tries next.
  const alice = await post(
    "/submit/v1/messages",
    { from: "alice@example.test", to: "x@remote.test", text: "x" },
    { base: small.base },
  );
  assert.equal(alice.status, 429);
});

test("a submitter answering 4xx (queue full) is a 503 with Retry-After, and a keyed retry can go again", async (t) => {
  const peer3 = await startFakeSmtpServer({
    script: (line) => (/^RCPT/i.test(line) ? "451 4.3.0 later" : undefined),
  });
  t.after(() => peer3.close());
  const full = await startRig(t, {
    forwardPort: peer3.port,
    extra: { queue: { maxMessages: 1, firstRetrySeconds: 3600 } },
  });
  const first = await post(
    "/submit/v1/messages",
    { from: "alice@example.test", to: "x@remote.test", text: "fills the queue" },
    { base: full.base },
  );
  assert.equal(first.status, 202);
  const second = await post(
    "/submit/v1/messages",
    { from: "alice@example.test", to: "y@remote.test", text: "no room" },
    { base: full.base, key: "k-full" },
  );
  assert.equal(second.status, 503);
  assert.match(String(second.body["error"]), /^452 4\.3\.1/);
  assert.equal(second.headers.get("retry-after"), "60");
  // Not remembered: the same key is free for the retry (still 503 here, not a replay or 409).
  const retry = await post(
    "/submit/v1/messages",
    { from: "alice@example.test", to: "y@remote.test", text: "no room" },
    { base: full.base, key: "k-full" },
  );
  assert.equal(retry.status, 503);
  assert.equal(retry.headers.get("idempotent-replayed"), null);
});

test("idempotency keys survive a restart of the node: the retry after it is answered from the store", async (t) => {
  const peer4 = await startFakeSmtpServer();
  t.after(() => peer4.close());
  const dataDir = await prepareDataDir("mailyard-api-keys-");
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const body = { from: "alice@example.test", to: "bob@example.test", subject: "across restarts", text: "1" };
  const first = await startRig(null, { dataDir, forwardPort: peer4.port });
  const a = await post("/submit/v1/messages", body, { base: first.base, key: "restart-1" });
  assert.equal(a.status, 202);
  await waitFor("delivered", async () => (await first.mailbox("bob")).length === 1);
  await first.stop();

  const second = await startRig(t, { dataDir, forwardPort: peer4.port });
  const b = await post("/submit/v1/messages", body, { base: second.base, key: "restart-1" });
  assert.equal(b.status, 202);
  assert.deepEqual(b.body, a.body);
  assert.equal(b.headers.get("idempotent-replayed"), "true");
  assert.equal((await second.mailbox("bob")).length, 1, "sent once");
});
