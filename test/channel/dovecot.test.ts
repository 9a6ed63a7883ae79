// Interop: our channel client (no secret) delivers to the real Dovecot LMTP server (Debian's
// dovecot-lmtpd) on a loopback TCP port, run privately from a config in a temp dir with a
// passwd-file userdb. Dovecot answers per recipient (an unknown user gets 550 5.1.1 while the
// others are stored), the Maildir holds the message with "." lines intact, and doveadm reads it
// back through the running instance. Dovecot refuses mail access as root, so under root the
// mail tree belongs to nobody (65534), as the userdb says.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
// The private Dovecot is the benchmark's (one starter for both: the bench may not import test/).
import { startDovecot as startPeer, type Dovecot } from "../../bench/dovecot.js";
import { job, startClient, summary } from "./fixtures.js";

const DOVEADM = "/usr/bin/doveadm";

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function startDovecot(t: TestContext): Promise<Dovecot> {
  const tmp = await mkdtemp(join(tmpdir(), "mailyard-dovecot-lmtp-"));
  let dovecot: Dovecot | null = null;
  t.after(async () => {
    await dovecot?.stop();
    await rm(tmp, { recursive: true, force: true });
  });
  dovecot = await startPeer(tmp, ["alice@example.test", "bob@example.test"]);
  return dovecot;
}

async function maildirMessages(mail: string, user: string): Promise<string[]> {
  const dir = join(mail, "example.test", user, "new");
  const files = (await readdir(dir).catch(() => [])).sort();
  return Promise.all(files.map((f) => readFile(join(dir, f), "latin1")));
}

void test("our client delivers to Dovecot LMTP: per-recipient results, Maildir and doveadm agree", async (t) => {
  const dovecot = await startDovecot(t);
  const { client } = startClient(
    t,
    { id: "dovecot", host: "127.0.0.1", port: dovecot.port },
    { secret: null },
  );

  const body =
    "From: <sender@origin.test>\r\nTo: <alice@example.test>\r\nSubject: over LMTP\r\n" +
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
    "first line\r\n.\r\n..two dots\r\n.one dot\r\nünïcode ok\r\nlast line\r\n";
  const out = await client.deliver(
    job({ rcpts: ["alice@example.test", "nobody@example.test", "bob@example.test"], body }),
  );
  assert.deepEqual(
    out.map(summary),
    ["delivered 250 2.0.0", "bounced 550 5.1.1 recipient", "delivered 250 2.0.0"],
    JSON.stringify(out),
  );
  assert.match(out[0]!.reply.text, /<alice@example\.test> .* Saved/);
  assert.match(out[1]!.reply.text, /nobody@example\.test/);
  assert.equal(out[0]!.relay, `dovecot[127.0.0.1]:${dovecot.port}`);

  // A second message over the pooled session.
  const second = await client.deliver(
    job({ rcpts: ["alice@example.test"], body: "Subject: second\r\n\r\nagain\r\n" }),
  );
  assert.deepEqual(second.map(summary), ["delivered 250 2.0.0"]);
  const log = await readFile(dovecot.logFile, "utf8");
  // One LMTP session carried both (the other connection is waitForPort's probe).
  const connects = log.match(/: Info: Connect from/g)?.length ?? 0;
  const probes = log.match(/Disconnect from .*\(state=GREETING\)/g)?.length ?? 0;
  assert.equal(connects - probes, 1, log);

  for (const user of ["alice", "bob"]) {
    const msgs = await maildirMessages(dovecot.mail, user);
    assert.equal(msgs.length, user === "alice" ? 2 : 1, user);
    const first = Buffer.from(msgs.find((m) => m.includes("over LMTP")) ?? "", "latin1").toString("utf8");
    assert.match(first, /^Return-Path: <sender@origin\.test>\r?\n/);
    assert.ok(first.replace(/\r\n/g, "\n").endsWith(body.replace(/\r\n/g, "\n")), first);
  }
  assert.deepEqual(await maildirMessages(dovecot.mail, "nobody"), []);

  const fetched = await run(DOVEADM, [
    "-c",
    dovecot.conf,
    "fetch",
    "-u",
    "alice@example.test",
    "hdr.subject body",
    "mailbox",
    "INBOX",
    "all",
  ]);
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.match(fetched.stdout, /hdr\.subject: over LMTP/);
  assert.match(fetched.stdout, /hdr\.subject: second/);
  assert.ok(fetched.stdout.includes("first line\n.\n..two dots\n.one dot\nünïcode ok"), fetched.stdout);
});
