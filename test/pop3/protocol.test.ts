// The POP3 server over real sockets (RFC 1939, 2449, 2595, 5034 and XTND XMIT): every command in
// both states, clear -ERRs, TOP and UIDL, deletions applied only at QUIT, one session per
// mailbox, STLS, AUTH PLAIN, throttled logins and timeouts on a fake clock, and XTND XMIT handing
// the message to the Submitter with the envelope taken from the session and the header.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Pop3Client } from "../kit/pop3-client.js";
import { FakeClock } from "../kit/clock.js";
import { startPop3, tempFailure, type Pop3Fixture } from "./fixtures.js";

const MSG1 =
  "From: a@remote.test\r\nTo: alice@example.test\r\nSubject: one\r\n\r\nline 1\r\n.dotted\r\nline 3\r\n";
const MSG2 = "Subject: two\nX-Bare: lf\n\nbody a\nbody b\n";

async function login(f: Pop3Fixture, user = "alice@example.test", pass = "s3cret pass"): Promise<Pop3Client> {
  const c = await Pop3Client.connect(f.port);
  assert.match((await c.line())!, /^\+OK pop\.example\.test POP3 Mailyard ready/);
  assert.match((await c.cmd(`USER ${user}`))!, /^\+OK/);
  assert.match((await c.cmd(`PASS ${pass}`))!, /^\+OK/);
  return c;
}

const files = async (f: Pop3Fixture, sub: string, user = "alice"): Promise<string[]> =>
  (await readdir(join(f.dir, "mail", "example.test", user, sub)).catch(() => [])).sort();

void test("CAPA before and after login; USER/PASS; STAT, LIST, RETR with dot-stuffing and CRLF", async (t) => {
  const f = await startPop3(t, { settings: { pop3: { maxErrors: 50 } } });
  await f.deliver(MSG1);
  await f.deliver(MSG2);
  const c = await Pop3Client.connect(f.port);
  await c.line();
  const capa = await c.multiCmd("CAPA");
  assert.equal(capa.status, "+OK capability list follows");
  const caps = capa.body.split("\r\n").filter((l) => l !== "");
  for (const cap of ["TOP", "UIDL", "USER", "SASL PLAIN", "STLS", "RESP-CODES", "PIPELINING", "XTND XMIT"])
    assert.ok(caps.includes(cap), `${cap} in ${capa.body}`);
  assert.match((await c.cmd("STAT"))!, /^-ERR STAT needs a login first/);
  assert.match((await c.cmd("PASS x"))!, /^-ERR PASS must follow USER/);
  assert.match((await c.cmd("USER alice@example.test"))!, /^\+OK/);
  assert.match((await c.cmd("PASS wrong"))!, /^-ERR \[AUTH\] invalid user name or password/);
  assert.match((await c.cmd("USER alice@example.test"))!, /^\+OK/);
  // The password is the rest of the line, spaces included.
  assert.match((await c.cmd("PASS s3cret pass"))!, /^\+OK alice@example\.test has 2 messages/);
  const after = await c.multiCmd("CAPA");
  assert.ok(!after.body.includes("USER") && !after.body.includes("STLS"), after.body);

  const size2 = Buffer.byteLength(MSG2.replace(/\n/g, "\r\n"));
  assert.equal(await c.cmd("STAT"), `+OK 2 ${MSG1.length + size2}`);
  const list = await c.multiCmd("LIST");
  assert.equal(list.body, `1 ${MSG1.length}\r\n2 ${size2}\r\n`);
  assert.equal(await c.cmd("LIST 2"), `+OK 2 ${size2}`);
  assert.match((await c.cmd("LIST 3"))!, /^-ERR no message 3/);
  assert.match((await c.cmd("LIST x"))!, /^-ERR message number required/);
  assert.match((await c.cmd("LIST 1 2"))!, /^-ERR LIST takes at most one message number/);

  const r1 = await c.multiCmd("RETR 1");
  assert.equal(r1.status, `+OK ${MSG1.length} octets`);
  assert.equal(r1.body, MSG1);
  // Bare LF in the stored file goes out as CRLF, with the size LIST announced.
  const r2 = await c.multiCmd("RETR 2");
  assert.equal(r2.body, MSG2.replace(/\n/g, "\r\n"));
  assert.equal(r2.body.length, size2);
  assert.match((await c.cmd("RETR"))!, /^-ERR message number required/);
  assert.equal(await c.cmd("NOOP"), "+OK");
  assert.match((await c.cmd("NOOP x"))!, /^-ERR/);
  assert.match((await c.cmd("FOO"))!, /^-ERR unknown command FOO/);
  assert.match((await c.cmd("USER bob@example.test"))!, /^-ERR USER is not valid after login/);
  assert.match((await c.cmd("QUIT"))!, /^\+OK .*signing off/);
  await c.waitClosed();
  // Both were retrieved: moved to cur/ with the Seen flag, none left in new/.
  assert.deepEqual(await files(f, "new"), []);
  assert.ok((await files(f, "cur")).every((n) => n.endsWith(":2,S")));
});

void test("TOP gives the header and n body lines; UIDL is stable across sessions and the move to cur/", async (t) => {
  const f = await startPop3(t);
  await f.deliver(MSG1);
  await f.deliver(MSG2);
  let c = await login(f);
  const top0 = await c.multiCmd("TOP 1 0");
  assert.equal(top0.status, "+OK top of message follows");
  assert.equal(top0.body, "From: a@remote.test\r\nTo: alice@example.test\r\nSubject: one\r\n\r\n");
  const top2 = await c.multiCmd("TOP 1 2");
  assert.equal(
    top2.body,
    "From: a@remote.test\r\nTo: alice@example.test\r\nSubject: one\r\n\r\nline 1\r\n.dotted\r\n",
  );
  assert.equal((await c.multiCmd("TOP 2 99")).body, MSG2.replace(/\n/g, "\r\n"));
  assert.match((await c.cmd("TOP 1"))!, /^-ERR TOP needs a message number and a line count/);
  assert.match((await c.cmd("TOP 1 -1"))!, /^-ERR/);
  const uidl = await c.multiCmd("UIDL");
  const ids = uidl.body.trim().split("\r\n");
  assert.equal(ids.length, 2);
  for (const line of ids) assert.match(line, /^[12] [\x21-\x7e]{1,70}$/);
  const one = await c.cmd("UIDL 2");
  assert.equal(one, `+OK ${ids[1]}`);
  await c.multiCmd("RETR 1");
  await c.cmd("QUIT");
  await c.waitClosed();
  assert.equal((await files(f, "cur")).length, 1);

  c = await login(f);
  assert.equal((await c.multiCmd("UIDL")).body.trim().split("\r\n").sort().join(), [...ids].sort().join());
  await c.cmd("QUIT");
});

void test("DELE marks, RSET unmarks, a dropped connection deletes nothing, QUIT applies the deletions", async (t) => {
  const f = await startPop3(t);
  await f.deliver(MSG1);
  await f.deliver(MSG2);
  let c = await login(f);
  assert.equal(await c.cmd("DELE 1"), "+OK message 1 deleted");
  assert.match((await c.cmd("DELE 1"))!, /^-ERR message 1 already deleted/);
  assert.match((await c.cmd("RETR 1"))!, /^-ERR message 1 already deleted/);
  assert.match((await c.cmd("STAT"))!, /^\+OK 1 /);
  assert.ok(!(await c.multiCmd("LIST")).body.startsWith("1 "));
  assert.match((await c.cmd("RSET"))!, /^\+OK maildrop has 2 messages/);
  assert.equal(await c.cmd("DELE 2"), "+OK message 2 deleted");
  c.close();
  await c.waitClosed();

  // The session ended without QUIT: nothing was removed.
  c = await login(f);
  assert.match((await c.cmd("STAT"))!, /^\+OK 2 /);
  assert.equal(await c.cmd("DELE 2"), "+OK message 2 deleted");
  assert.equal((await files(f, "new")).length, 2, "still there before QUIT");
  assert.match((await c.cmd("QUIT"))!, /^\+OK .*\(1 messages deleted\)/);
  await c.waitClosed();
  assert.equal((await files(f, "new")).length + (await files(f, "cur")).length, 1);

  c = await login(f);
  assert.match((await c.cmd("STAT"))!, /^\+OK 1 /);
  assert.match((await c.multiCmd("RETR 1")).body, /Subject: one/);
  await c.cmd("QUIT");
});

void test("one session per mailbox: a second login gets [IN-USE] until the first ends", async (t) => {
  const f = await startPop3(t);
  await f.deliver(MSG1);
  const first = await login(f);
  const second = await Pop3Client.connect(f.port);
  await second.line();
  await second.cmd("USER alice@example.test");
  assert.match(
    (await second.cmd("PASS s3cret pass"))!,
    /^-ERR \[IN-USE\] mailbox is open in another session/,
  );
  // Another account is not affected.
  await f.deliver(MSG2, "bob");
  const bob = await login(f, "bob@example.test", "bobpw");
  assert.match((await bob.cmd("STAT"))!, /^\+OK 1 /);
  await bob.cmd("QUIT");
  await first.cmd("QUIT");
  await first.waitClosed();
  await second.cmd("USER alice@example.test");
  assert.match((await second.cmd("PASS s3cret pass"))!, /^\+OK/);
  await second.cmd("QUIT");
});

void test("mail delivered during a session is not in it, and is there at the next login", async (t) => {
  const f = await startPop3(t);
  await f.deliver(MSG1);
  const c = await login(f);
  await f.deliver(MSG2);
  assert.match((await c.cmd("STAT"))!, /^\+OK 1 /);
  await c.cmd("QUIT");
  await c.waitClosed();
  const again = await login(f);
  assert.match((await again.cmd("STAT"))!, /^\+OK 2 /);
  await again.cmd("QUIT");
});

void test("AUTH PLAIN with an initial response and with a continuation; cancel; mechanisms", async (t) => {
  const f = await startPop3(t);
  const plain = (z: string, u: string, p: string) => Buffer.from(`${z}\0${u}\0${p}`).toString("base64");
  let c = await Pop3Client.connect(f.port);
  await c.line();
  assert.equal((await c.multiCmd("AUTH")).body, "PLAIN\r\n");
  assert.match((await c.cmd("AUTH CRAM-MD5"))!, /^-ERR \[AUTH\] unsupported mechanism/);
  assert.match((await c.cmd(`AUTH PLAIN ${plain("", "alice@example.test", "nope")}`))!, /^-ERR \[AUTH\]/);
  assert.match(
    (await c.cmd(`AUTH PLAIN ${plain("bob@example.test", "alice@example.test", "s3cret pass")}`))!,
    /^-ERR \[AUTH\]/,
  );
  assert.match((await c.cmd("AUTH PLAIN !!!"))!, /^-ERR authentication response is not base64/);
  assert.equal(await c.cmd("AUTH PLAIN"), "+ ");
  assert.match((await c.cmd("*"))!, /^-ERR authentication cancelled/);
  assert.match(
    (await c.cmd(`AUTH PLAIN ${plain("", "alice@example.test", "s3cret pass")}`))!,
    /^\+OK alice@example\.test has 0 messages/,
  );
  await c.cmd("QUIT");
  c = await Pop3Client.connect(f.port);
  await c.line();
  assert.equal(await c.cmd("AUTH PLAIN"), "+ ");
  assert.match((await c.cmd(plain("alice@example.test", "alice@example.test", "s3cret pass")))!, /^\+OK/);
  assert.match((await c.cmd("APOP x y"))!, /^-ERR APOP is not valid after login/);
  await c.cmd("QUIT");
  const logText = JSON.stringify(f.logs.records);
  assert.ok(!logText.includes("s3cret"), "no password in the log");
});

void test("STLS: logins refused in the clear when TLS is required, accepted after the handshake", async (t) => {
  const f = await startPop3(t, { settings: { pop3: { authRequiresTls: true } } });
  await f.deliver(MSG1);
  const c = await Pop3Client.connect(f.port);
  await c.line();
  const capa = (await c.multiCmd("CAPA")).body;
  assert.ok(capa.includes("STLS") && !capa.includes("USER") && !capa.includes("SASL"), capa);
  assert.match((await c.cmd("USER alice@example.test"))!, /^-ERR \[AUTH\] use STLS first/);
  assert.match((await c.cmd("AUTH PLAIN AGFsaWNlAHg="))!, /^-ERR \[AUTH\] use STLS first/);
  assert.match((await c.cmd("STLS x"))!, /^-ERR STLS takes no argument/);
  assert.equal(await c.cmd("STLS"), "+OK Begin TLS negotiation");
  await c.upgrade();
  const capaTls = (await c.multiCmd("CAPA")).body;
  assert.ok(capaTls.includes("USER") && !capaTls.includes("STLS"), capaTls);
  assert.match((await c.cmd("STLS"))!, /^-ERR TLS is already active/);
  await c.cmd("USER alice@example.test");
  assert.match((await c.cmd("PASS s3cret pass"))!, /^\+OK alice@example\.test has 1 messages/);
  assert.equal((await c.multiCmd("RETR 1")).body, MSG1);
  await c.cmd("QUIT");
});

void test("no TLS context: STLS is neither offered nor accepted", async (t) => {
  const f = await startPop3(t, { tls: false });
  const c = await Pop3Client.connect(f.port);
  await c.line();
  assert.ok(!(await c.multiCmd("CAPA")).body.includes("STLS"));
  assert.match((await c.cmd("STLS"))!, /^-ERR TLS is not available here/);
  await c.cmd("QUIT");
});

void test("failed logins are throttled per address and per account, on the clock, even with the right password", async (t) => {
  const clock = new FakeClock();
  const f = await startPop3(t, {
    clock,
    settings: { auth: { maxFailures: 3, maxFailuresPerAddress: 3, lockoutSeconds: 60 } },
  });
  const c = await Pop3Client.connect(f.port);
  await c.line();
  for (let i = 0; i < 3; i++) {
    await c.cmd("USER alice@example.test");
    assert.match((await c.cmd("PASS guess"))!, /^-ERR \[AUTH\] invalid/);
  }
  await c.cmd("USER alice@example.test");
  assert.match((await c.cmd("PASS s3cret pass"))!, /^-ERR \[AUTH\] too many failed logins/);
  // bob's account is refused too: the address is throttled.
  await c.cmd("USER bob@example.test");
  assert.match((await c.cmd("PASS bobpw"))!, /^-ERR \[AUTH\] too many failed logins/);
  assert.ok(
    f.logs.records.some(
      (r) => r.tag === "POP" && r.text === "auth failed" && r.fields["reason"] === "throttled",
    ),
  );
  clock.advance(61_000);
  await c.cmd("USER alice@example.test");
  assert.match((await c.cmd("PASS s3cret pass"))!, /^\+OK/);
  await c.cmd("QUIT");
});

void test("too many errors close the session; an idle session is closed on the clock; HTTP is refused", async (t) => {
  const clock = new FakeClock();
  const f = await startPop3(t, { clock, settings: { pop3: { maxErrors: 3, idleTimeoutSeconds: 600 } } });
  const c = await Pop3Client.connect(f.port);
  await c.line();
  await c.cmd("A");
  await c.cmd("B");
  assert.match((await c.cmd("C"))!, /^-ERR unknown command/);
  assert.match((await c.line())!, /^-ERR too many errors/);
  await c.waitClosed();

  const idle = await login(f);
  clock.advance(600_001);
  assert.match((await idle.line())!, /^-ERR \[SYS\/TEMP\] idle timeout/);
  await idle.waitClosed();

  const web = await Pop3Client.connect(f.port);
  await web.line();
  assert.match((await web.cmd("GET / HTTP/1.1"))!, /^-ERR this is a POP3 server/);
  await web.waitClosed();
  assert.ok(f.logs.records.some((r) => r.text === "idle timeout"));
});

void test("XTND XMIT submits with the account as sender, To/Cc/Bcc as recipients, Bcc stripped, source pop3", async (t) => {
  const f = await startPop3(t);
  const c = await login(f);
  assert.match((await c.cmd("XTND FOO"))!, /^-ERR unknown XTND command/);
  assert.match((await c.cmd("XTND XMIT"))!, /^\+OK send the message/);
  c.send(
    "From: Someone Else <forged@elsewhere.test>\r\n" +
      'To: "Bob, B." <bob@example.test>, carol@remote.test\r\n' +
      "Cc: (team) dave@remote.test, Bob <BOB@example.test>\r\n" +
      "Bcc: secret@remote.test\r\nSubject: via pop3\r\n\r\n..leading dot\r\nbody\r\n.\r\n",
  );
  assert.match((await c.line())!, /^\+OK message submitted as Q1/);
  assert.equal(f.submitted.length, 1);
  const { draft, message } = f.submitted[0]!;
  assert.equal(draft.source, "pop3");
  assert.equal(draft.returnPath, "alice@example.test");
  assert.equal(draft.authUser, "alice@example.test");
  assert.deepEqual(
    draft.recipients.map((r) => r.address),
    ["bob@example.test", "carol@remote.test", "dave@remote.test", "secret@remote.test"],
  );
  const text = message.toString();
  assert.match(text, /^Received: from \[127\.0\.0\.1\] \(authenticated as alice@example\.test\)/);
  assert.ok(!/^Bcc:/im.test(text), text);
  assert.match(text, /\r\nSubject: via pop3\r\n\r\n\.leading dot\r\nbody\r\n$/);
  assert.ok(f.logs.records.some((r) => r.text === "message submitted" && r.fields["source"] === "pop3"));

  // No recipients, bare LF, a refusing submitter: each a clear -ERR, the session goes on.
  await c.cmd("XTND XMIT");
  c.send("Subject: nobody\r\n\r\nx\r\n.\r\n");
  assert.match((await c.line())!, /^-ERR \[SYS\/PERM\] no recipients in To, Cc or Bcc/);
  await c.cmd("XTND XMIT");
  c.send("To: bob@example.test\nSubject: bare\r\n\r\nx\r\n.\r\n");
  assert.match((await c.line())!, /^-ERR message refused: bare CR or LF/);
  f.refuseNext(tempFailure);
  await c.cmd("XTND XMIT");
  c.send("To: bob@example.test\r\n\r\nx\r\n.\r\n");
  assert.match((await c.line())!, /^-ERR \[SYS\/TEMP\] Queue full, try again later/);
  assert.equal(f.submitted.length, 1);
  assert.equal(await c.cmd("NOOP"), "+OK");
  await c.cmd("QUIT");
});

void test("XTND XMIT is refused before login and past the size limit", async (t) => {
  const f = await startPop3(t, { settings: { smtp: { maxMessageSize: 1000 } } });
  const c = await Pop3Client.connect(f.port);
  await c.line();
  assert.match((await c.cmd("XTND XMIT"))!, /^-ERR XTND needs a login first/);
  await c.cmd("USER alice@example.test");
  await c.cmd("PASS s3cret pass");
  await c.cmd("XTND XMIT");
  c.send(`To: bob@example.test\r\n\r\n${"x".repeat(900)}\r\n${"y".repeat(900)}\r\n.\r\n`);
  assert.match((await c.line())!, /^-ERR \[SYS\/PERM\] message too big/);
  assert.equal(f.submitted.length, 0);
  await c.cmd("QUIT");
});

void test("in a cluster, a login for a mailbox stored on another backend is refused", async (t) => {
  const f = await startPop3(t, { stores: (a) => Promise.resolve(a === "bob@example.test") });
  const c = await Pop3Client.connect(f.port);
  await c.line();
  await c.cmd("USER alice@example.test");
  assert.match(
    (await c.cmd("PASS s3cret pass"))!,
    /^-ERR \[SYS\/TEMP\] this mailbox is not stored on this server/,
  );
  await c.cmd("USER bob@example.test");
  assert.match((await c.cmd("PASS bobpw"))!, /^\+OK bob@example\.test has 0 messages/);
  await c.cmd("QUIT");
});
