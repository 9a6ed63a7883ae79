// Outbound SMTP smuggling (issue 15, item 1): an unauthenticated client sends BDAT whose bytes
// hold every shape of a sloppy end of data ("\n.\n", "\n.\r\n", "\r.\r", "\r.\n", bare CR and
// LF, NUL) to a forwarding alias of a single node, whose next hop has no CHUNKING. Mailyard must
// never write a DATA stream another server could end early: a text body with such bytes is
// refused at BDAT (as DATA refuses it), and a BODY=BINARYMIME body, which may hold them, is not
// sent over DATA at all but returned (RFC 3030 §3, 5.6.3) with a DSN whose enclosed headers are
// CRLF-only text. Checked twice: against a raw capturing sink that records every DATA stream,
// and against a real, private Postfix that reads bare LF as a line end and offers no CHUNKING,
// where exactly one message (the DSN) must arrive and nothing forged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupAll } from "../../bench/cleanup.js";
import { startPostfix } from "../../bench/postfix.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { systemClock } from "../../src/world/clock.js";
import { endOfDataLike, startCaptureSink } from "../kit/capture-sink.js";
import { waitFor } from "../kit/load.js";
import { SmtpClient, type SmtpReply } from "../kit/smtp-client.js";
import { prepareDataDir, startRig, type Rig } from "../sources/rig.js";

/** Headers and body carrying each sloppy terminator, a forged second message after the first. */
const PAYLOAD = Buffer.from(
  "From: <ceo@example.test>\r\nSubject: smuggle\r\n" +
    "X-A: a\n.\nX-B: b\n.\r\nX-C: c\r.\rX-D: d\r.\nX-E: e\x00f\r\n\r\n" +
    "body\n.\nMAIL FROM:<ceo@example.test>\r\nRCPT TO:<victim@remote.test>\r\nDATA\r\n" +
    "From: <ceo@example.test>\r\nSubject: forged\r\n\r\nforged\r\n.\r\n" +
    "more\r.\rQUIT\r\nend\n.\r\ntail\r\n",
  "latin1",
);

/** A node with fwd@example.test → victim@remote.test; remote mail goes to 127.0.0.1:port. */
async function forwardingNode(t: Parameters<typeof startRig>[0], port: number): Promise<Rig> {
  const dataDir = await prepareDataDir("mailyard-smuggling-");
  const dir = openSqliteDirectory(join(dataDir, "mailyard.db"), systemClock);
  await dir.addAlias("fwd@example.test", ["victim@remote.test"]);
  await dir.close();
  return startRig(t, { dataDir, forwardPort: port });
}

/** One unauthenticated BDAT transaction from a claimed outside sender; the reply to each step. */
async function sendBdat(
  rig: Rig,
  params: string,
  chunks: readonly Buffer[],
  who = { from: "attacker@sender.test", to: "fwd@example.test" },
): Promise<SmtpReply[]> {
  const c = await SmtpClient.connect(rig.node.smtp[0]!.port);
  try {
    await c.expect(220);
    await c.cmd("EHLO attacker.test", 250);
    c.send(`MAIL FROM:<${who.from}>${params}\r\nRCPT TO:<${who.to}>\r\n`);
    chunks.forEach((b, i) =>
      c.send(
        Buffer.concat([Buffer.from(`BDAT ${b.length}${i === chunks.length - 1 ? " LAST" : ""}\r\n`), b]),
      ),
    );
    const r = await c.replies(2 + chunks.length);
    await c.cmd("QUIT");
    return r;
  } finally {
    c.close();
  }
}

// The first chunk is clean text, so the refusal comes at the chunk with the stray bytes.
const halves = (b: Buffer): Buffer[] => [b.subarray(0, 20), b.subarray(20)];

const queueSize = async (rig: Rig): Promise<number> =>
  ((await rig.admin("/api/queue")) as { size: number }).size;

test("no DATA stream to a next hop without CHUNKING holds an end of data but the last CRLF.CRLF", async (t) => {
  const sink = await startCaptureSink();
  t.after(() => sink.close());
  const rig = await forwardingNode(t, sink.port);

  // A text body (no BODY=, or 8BITMIME) with stray line ends is refused at BDAT, as DATA is.
  for (const params of ["", " BODY=8BITMIME"]) {
    const r = await sendBdat(rig, params, halves(PAYLOAD));
    assert.deepEqual(
      r.map((x) => x.code),
      [250, 250, 250, 554],
      `BODY${params}`,
    );
    assert.match(r[3]!.raw, /^554 5\.6\.11 /);
  }

  // BINARYMIME may hold these bytes: accepted, but returned rather than sent over DATA.
  const binary = await sendBdat(rig, " BODY=BINARYMIME", halves(PAYLOAD));
  assert.equal(binary[3]!.code, 250);
  await waitFor("a transaction at the sink", () => sink.transactions.length >= 1);
  // A clean message through the same alias still goes out as it is.
  const clean = Buffer.from("From: <a@sender.test>\r\nSubject: clean\r\n\r\n.dot\r\nok\r\n");
  assert.equal((await sendBdat(rig, "", [clean]))[2]!.code, 250);
  await waitFor("both transactions at the sink", () => sink.transactions.length >= 2);
  await waitFor("queue empty", async () => (await queueSize(rig)) === 0);

  for (const tx of sink.transactions) {
    assert.deepEqual(endOfDataLike(tx.stream), [], `DATA stream to ${tx.rcpts.join(",")} from <${tx.from}>`);
  }
  assert.equal(sink.transactions.length, 2);
  const dsn = sink.transactions.find((x) => x.from === "");
  assert.ok(dsn, "the BINARYMIME message came back as a DSN");
  assert.deepEqual(dsn.rcpts, ["attacker@sender.test"]);
  const text = dsn.stream.toString("latin1");
  assert.match(text, /Status: 5\.6\.3/);
  // The enclosed headers, stray line ends made CRLF, their lone dots stuffed.
  assert.match(text, /X-A: a\r\n\.\.\r\nX-B: b\r\n\.\.\r\nX-C: c\r\n\.\.\r\nX-D: d\r\n\.\.\r\nX-E: ef\r\n/);
  assert.ok(!text.includes("forged"), "the body of a BINARYMIME original is not returned");
  const relayed = sink.transactions.find((x) => x.from === "attacker@sender.test");
  assert.deepEqual(relayed?.rcpts, ["victim@remote.test"]);
  assert.match(relayed.stream.toString("latin1"), /\r\nSubject: clean\r\n\r\n\.\.dot\r\nok\r\n\.\r\n$/);
});

test("a real, lenient Postfix downstream without CHUNKING gets exactly one message: the DSN", async (t) => {
  // Stock Debian Postfix 3.7: bare LF is a line ending, so "\n.\n" ends its DATA (CVE-2023-51764
  // class; stated here so a newer default cannot hide the hole). CHUNKING is not offered, so
  // Mailyard has to use DATA. example.test is Postfix's domain, with mailboxes u0 and u1.
  const dir = await mkdtemp(join(tmpdir(), "mailyard-smuggling-postfix-"));
  t.after(() => cleanupAll());
  const postfix = await startPostfix({
    dir,
    sinkPort: 9,
    mailboxes: 2,
    postfixMainCf: "smtpd_forbid_bare_newline = no\nsmtpd_discard_ehlo_keywords = chunking\n",
  });
  const maildir = async (user: string): Promise<string[]> => {
    const d = join(postfix.maildirRoot, "example.test", user, "new");
    const names = await readdir(d).catch(() => []);
    return Promise.all(names.map((n) => readFile(join(d, n), "utf8")));
  };
  // Mailyard's own domain is mailyard.test: fwd@mailyard.test forwards to u0 at Postfix.
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-smuggling-"));
  const directory = openSqliteDirectory(join(dataDir, "mailyard.db"), systemClock);
  await directory.addDomain("mailyard.test");
  await directory.addAlias("fwd@mailyard.test", ["u0@example.test"]);
  await directory.close();
  const rig = await startRig(null, { dataDir, forwardPort: postfix.smtpPort });
  t.after(async () => {
    await rig.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  // The classic shape: a short first message, then a forged one from a Mailyard domain.
  const payload = Buffer.from(
    "From: <u1@example.test>\r\nSubject: first\r\n\r\nhello\n.\n" +
      "MAIL FROM:<ceo@mailyard.test>\r\nRCPT TO:<u0@example.test>\r\nDATA\r\n" +
      "From: <ceo@mailyard.test>\r\nSubject: forged\r\n\r\npay now\r\n.\n" +
      "bye\r\n",
    "latin1",
  );
  const send = (params: string) =>
    sendBdat(rig, params, halves(payload), { from: "u1@example.test", to: "fwd@mailyard.test" });

  assert.match((await send(""))[3]!.raw, /^554 5\.6\.11 /);
  assert.equal((await send(" BODY=BINARYMIME"))[3]!.code, 250);
  await waitFor("the DSN in u1's Maildir", async () => (await maildir("u1")).length >= 1, 60_000);
  await waitFor("Mailyard's queue empty", async () => (await queueSize(rig)) === 0);
  const [report, ...more] = await maildir("u1");
  assert.deepEqual(more, []);
  assert.match(report!, /Undelivered Mail Returned to Sender/);
  assert.match(report!, /Status: 5\.6\.3/);
  assert.deepEqual(await maildir("u0"), [], "neither the message nor a forged one reached u0");
});
