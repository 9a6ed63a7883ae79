// Interop with the real Dovecot: messages the local channel stored are read back by doveadm from
// the same Maildir, through a private config in the temp dir (no system config). doveadm runs
// with USER/HOME in its environment, which makes it skip the userdb lookup (that would need a
// running auth service); mail_uid/mail_gid stand in for the userdb's uid and gid. Dovecot
// refuses mail access as root, so under root the tree is handed to nobody (65534) first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { FakeClock } from "../kit/clock.js";
import { silentLog } from "../kit/log.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { createMaildirStore } from "../../src/store/maildir.js";
import { createLocalChannel } from "../../src/delivery/local.js";
import { settingsSchema } from "../../src/config/settings.js";
import type { DeliveryJob } from "../../src/queue/types.js";

const DOVEADM = "/usr/bin/doveadm";

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 30_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  if (!(await stat(path)).isDirectory()) return;
  for (const e of await readdir(path)) await chownTree(join(path, e), uid, gid);
}

const job = (n: number, to: string, message: Buffer, clock: FakeClock): DeliveryJob => ({
  envelope: {
    id: `D${n}`,
    returnPath: "bob@remote.test",
    recipients: [{ address: to, original: null, notify: null, orcpt: null }],
    ret: null,
    envid: null,
    body: "8BITMIME",
    smtputf8: false,
    source: "smtp",
    authUser: null,
    client: null,
    arrival: clock.now(),
    size: message.length,
  },
  recipients: [{ index: 0, rcpt: { address: to, original: null, notify: null, orcpt: null } }],
  route: { key: `local:${to}`, kind: "local" },
  body: () => Readable.from([message]),
});

void test("Dovecot reads back what the local channel stored", async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), "mailyard-dovecot-"));
  const clock = new FakeClock();
  const dir = openSqliteDirectory(join(tmp, "mailyard.db"), clock);
  t.after(async () => {
    await dir.close();
    await rm(tmp, { recursive: true, force: true });
  });
  await dir.addDomain("example.test");
  await dir.addAccount("alice@example.test", "pw");
  const root = join(tmp, "mail");
  const channel = createLocalChannel({
    directory: dir,
    store: createMaildirStore(root, silentLog("LOCAL")),
    settings: settingsSchema.parse({}),
    clock,
    log: silentLog("LOCAL"),
    hostname: "mx.example.test",
  });

  const bodies = ["First message body.", "Second message, with ünïcode and a long line " + "x".repeat(2000)];
  for (const [i, text] of bodies.entries()) {
    const message = Buffer.from(
      `From: <bob@remote.test>\r\nTo: <alice@example.test>\r\nSubject: dovecot ${i}\r\n` +
        `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n`,
    );
    const out = await channel.deliver(job(i, "alice@example.test", message, clock));
    assert.equal(out[0]?.kind, "delivered");
  }

  const root0 = process.getuid?.() === 0;
  const uid = root0 ? 65534 : process.getuid!();
  const gid = root0 ? 65534 : process.getgid!();
  const home = join(tmp, "home", "example.test", "alice");
  await mkdir(home, { recursive: true });
  const conf = join(tmp, "dovecot.conf");
  await writeFile(
    conf,
    [
      `base_dir = ${join(tmp, "run")}`,
      `state_dir = ${join(tmp, "state")}`,
      "log_path = /dev/stderr",
      `mail_location = maildir:${root}/%d/%n`,
      `mail_uid = ${uid}`,
      `mail_gid = ${gid}`,
      "first_valid_uid = 0",
      "first_valid_gid = 0",
      "",
    ].join("\n"),
  );
  if (root0) await chownTree(tmp, uid, gid);

  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", USER: "alice@example.test", HOME: home };
  const fetched = await run(
    DOVEADM,
    ["-c", conf, "fetch", "uid hdr.subject text", "mailbox", "INBOX", "all"],
    env,
  );
  assert.equal(fetched.code, 0, `doveadm failed: ${fetched.stderr}`);
  // An S= size in the file name that disagreed with the file would show up as an error here.
  assert.doesNotMatch(fetched.stderr, /error/i);
  assert.match(fetched.stdout, /uid: 1\n/);
  assert.match(fetched.stdout, /uid: 2\n/);
  assert.match(fetched.stdout, /hdr\.subject: dovecot 0/);
  assert.match(
    fetched.stdout,
    /Return-Path: <bob@remote\.test>\r?\nDelivered-To: alice@example\.test\r?\nFrom: <bob@remote\.test>/,
  );
  assert.ok(fetched.stdout.includes(bodies[0]!), "first body read back");
  assert.ok(fetched.stdout.includes(bodies[1]!), "second body read back");

  // Dovecot's own view of the mailbox agrees on the count and sizes.
  const status = await run(DOVEADM, ["-c", conf, "mailbox", "status", "messages vsize", "INBOX"], env);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /messages=2/);
});

void test("Dovecot's expunge lowers the usage Mailyard reads: both keep one maildirsize", async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), "mailyard-dovecot-quota-"));
  const clock = new FakeClock();
  const dir = openSqliteDirectory(join(tmp, "mailyard.db"), clock);
  t.after(async () => {
    await dir.close();
    await rm(tmp, { recursive: true, force: true });
  });
  await dir.addDomain("example.test");
  await dir.addAccount("alice@example.test", "pw", { quotaBytes: 100_000 });
  const root = join(tmp, "mail");
  const store = createMaildirStore(root, silentLog("LOCAL"));
  const channel = createLocalChannel({
    directory: dir,
    store,
    settings: settingsSchema.parse({}),
    clock,
    log: silentLog("LOCAL"),
    hostname: "mx.example.test",
  });
  for (let i = 0; i < 3; i++) {
    const message = Buffer.from(`Subject: quota ${i}\r\n\r\n${"z".repeat(1000 * (i + 1))}\r\n`);
    assert.equal((await channel.deliver(job(i, "alice@example.test", message, clock)))[0]?.kind, "delivered");
  }
  const before = await store.usage("example.test", "alice", 100_000);
  assert.equal(before?.count, 3);
  assert.equal((await dir.getAccount("alice@example.test"))?.usedBytes, before?.bytes);

  const root0 = process.getuid?.() === 0;
  const uid = root0 ? 65534 : process.getuid!();
  const gid = root0 ? 65534 : process.getgid!();
  const home = join(tmp, "home", "example.test", "alice");
  await mkdir(home, { recursive: true });
  const conf = join(tmp, "dovecot.conf");
  await writeFile(
    conf,
    [
      `base_dir = ${join(tmp, "run")}`,
      `state_dir = ${join(tmp, "state")}`,
      "log_path = /dev/stderr",
      `mail_location = maildir:${root}/%d/%n`,
      `mail_uid = ${uid}`,
      `mail_gid = ${gid}`,
      "first_valid_uid = 0",
      "first_valid_gid = 0",
      // Dovecot's Maildir++ quota, with the account's limit: it keeps the same maildirsize
      "mail_plugins = quota",
      "plugin {",
      "  quota = maildir:User quota",
      "  quota_rule = *:storage=100000B",
      "}",
      "",
    ].join("\n"),
  );
  if (root0) await chownTree(tmp, uid, gid);
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", USER: "alice@example.test", HOME: home };
  // the largest message, as an IMAP client's EXPUNGE would
  const expunged = await run(
    DOVEADM,
    ["-c", conf, "expunge", "mailbox", "INBOX", "header", "Subject", "quota 2"],
    env,
  );
  assert.equal(expunged.code, 0, `doveadm expunge failed: ${expunged.stderr}`);
  const quota = await run(DOVEADM, ["-c", conf, "-f", "flow", "quota", "get"], env);
  assert.equal(quota.code, 0, quota.stderr);

  const after = await store.usage("example.test", "alice", 100_000);
  assert.equal(after?.count, 2);
  assert.ok(after.bytes < before.bytes - 3000, `usage ${before?.bytes} → ${after?.bytes}`);
  // Dovecot counts the same bytes (its STORAGE value is in KiB, rounded up)
  const storage = /Type=STORAGE Value=(\d+)/.exec(quota.stdout);
  assert.ok(storage, quota.stdout);
  assert.equal(Number(storage[1]), Math.ceil(after.bytes / 1024), quota.stdout);
  // the next delivery's check brings the directory's figure down to it
  const small = Buffer.from("Subject: after\r\n\r\nsmall\r\n");
  assert.equal((await channel.deliver(job(9, "alice@example.test", small, clock)))[0]?.kind, "delivered");
  const now = await store.usage("example.test", "alice", 100_000);
  assert.equal((await dir.getAccount("alice@example.test"))?.usedBytes, now?.bytes);
  assert.equal(now?.count, 3);
});
