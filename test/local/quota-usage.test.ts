// Quota usage follows the mailbox on a whole single node with a real Maildir (issue 20 item 2):
// a full mailbox refuses at RCPT; POP3 deletions lower the usage (the directory's figure too), so
// the same message is then accepted; files removed by hand lower it as well.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, unlink, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { startNode } from "../../src/server/node.js";
import { systemClock } from "../../src/world/clock.js";
import { waitFor } from "../kit/load.js";
import { memoryLogSink } from "../kit/log.js";
import { Pop3Client } from "../kit/pop3-client.js";
import { SmtpClient } from "../kit/smtp-client.js";

const BODY = "x".repeat(70) + "\r\n";

/** RCPT's reply code for a message of `size` bytes to alice, without sending it. */
async function rcptCode(port: number, size: number): Promise<number> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd(`MAIL FROM:<friend@remote.test> SIZE=${size}`, 250);
    const r = await c.cmd("RCPT TO:<alice@example.test>");
    await c.cmd("QUIT");
    return r.code;
  } finally {
    c.close();
  }
}

async function send(port: number, lines: number): Promise<void> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<friend@remote.test>", 250);
    await c.cmd("RCPT TO:<alice@example.test>", 250);
    await c.cmd("DATA", 354);
    await c.cmd(`Subject: fill\r\n\r\n${BODY.repeat(lines)}.`, 250);
    await c.cmd("QUIT");
  } finally {
    c.close();
  }
}

test("usage goes down after POP3 deletions and after files removed by hand", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-quota-usage-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const directory = openSqliteDirectory(join(dataDir, "mailyard.db"), systemClock);
  t.after(() => directory.close());
  await directory.addDomain("example.test");
  await directory.addAccount("alice@example.test", "s3cret", { quotaBytes: 4000 });
  const node = await startNode(
    settingsSchema.parse({
      dataDir,
      hostname: "mx.example.test",
      smtp: { listen: ["127.0.0.1:0"] },
      submission: { listen: [] },
      submissions: { listen: [] },
      pop3: { listen: ["127.0.0.1:0"], authRequiresTls: false },
      http: { listen: "127.0.0.1:0" },
      log: { stdout: false },
    }),
    { log: memoryLogSink() },
  );
  t.after(() => node.stop());
  const smtp = node.smtp[0]!.port;
  const inbox = join(dataDir, "mail", "example.test", "alice");
  const files = async (): Promise<string[]> =>
    (
      await Promise.all(
        ["new", "cur"].map(async (s) =>
          (await readdir(join(inbox, s)).catch(() => [])).map((f) => join(inbox, s, f)),
        ),
      )
    ).flat();

  // three messages of about 1.3 KB: some 4 KB of 4000 used
  for (let i = 0; i < 3; i++) await send(smtp, 15);
  await waitFor("three messages stored", async () => (await files()).length === 3);
  const used = async () => (await directory.getAccount("alice@example.test"))!.usedBytes;
  // what the files hold (",S=" in their names); the figure is written right after each store
  const held = async () => (await files()).reduce((n, f) => n + Number(/,S=(\d+)/.exec(f)![1]), 0);
  await waitFor("the usage is what the mailbox holds", async () => (await used()) === (await held()));
  assert.ok((await used()) > 3900, `usage ${await used()}`);
  assert.equal(await rcptCode(smtp, 900), 452, "a 900-byte message does not fit");

  // POP3: delete two, QUIT (UPDATE state)
  const pop = await Pop3Client.connect(node.pop3[0]!.port);
  assert.match((await pop.line())!, /^\+OK/);
  await pop.cmd("USER alice@example.test");
  assert.match((await pop.cmd("PASS s3cret"))!, /^\+OK/);
  assert.match((await pop.cmd("DELE 1"))!, /^\+OK/);
  assert.match((await pop.cmd("DELE 2"))!, /^\+OK/);
  assert.match((await pop.cmd("QUIT"))!, /^\+OK/);
  const left = await files();
  assert.equal(left.length, 1);
  // the directory's figure follows at once (it is what other members and listings show)
  assert.equal(await used(), await held(), "usage after the POP3 deletions");
  assert.equal(await rcptCode(smtp, 900), 250, "after the deletions it fits");

  // By hand, a while later: the last file removed outside Mailyard; nothing records it, the folder
  // shows it (file times move in ticks of a few ms, so the quota file is dated a second back).
  const earlier = new Date(Date.now() - 1000);
  await utimes(join(inbox, "maildirsize"), earlier, earlier);
  await unlink(left[0]!);
  assert.equal(await rcptCode(smtp, 3900), 250, "an empty mailbox takes 3.9 KB");
  assert.equal(await used(), 0);
});
