// RFC 5321 §4.5.1 on one node, from a client that may not relay: RCPT TO:<Postmaster> (no
// domain, any case) and postmaster@ a local domain without its own postmaster are accepted and
// reach the operator's postmaster mailbox; smtp.postmaster names another target.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { startNode } from "../../src/server/node.js";
import { systemClock } from "../../src/world/clock.js";
import { fakeResolver } from "../kit/resolver.js";
import { memoryLogSink } from "../kit/log.js";
import { waitFor } from "../kit/load.js";
import { SmtpClient } from "../kit/smtp-client.js";

async function startWith(t: { after(fn: () => Promise<void>): void }, smtp: Record<string, unknown> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-postmaster-"));
  const dir = openSqliteDirectory(join(dataDir, "mailyard.db"), systemClock);
  await dir.addDomain("example.test");
  await dir.addDomain("other.test");
  await dir.addAccount("postmaster@example.test", "pw");
  await dir.addAccount("ops@other.test", "pw");
  await dir.close();
  const node = await startNode(
    settingsSchema.parse({
      dataDir,
      // Not a local domain: the bare <Postmaster> is read as postmaster@ this name.
      hostname: "mx.example.test",
      // 127.0.0.1 is an Internet client here: it may not relay.
      smtp: { listen: ["127.0.0.1:0"], relayNetworks: [], ...smtp },
      submission: { listen: [] },
      submissions: { listen: [] },
      pop3: { listen: [] },
      http: { listen: "127.0.0.1:0" },
      log: { stdout: false },
    }),
    // Mail from 127.0.0.1 is from outside here: its SPF and DMARC lookups must not reach real DNS.
    { log: memoryLogSink(), world: { resolver: fakeResolver({}) } },
  );
  t.after(async () => {
    await node.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const mailbox = async (domain: string, user: string): Promise<string[]> => {
    const d = join(dataDir, "mail", domain, user, "new");
    const names = await readdir(d).catch(() => []);
    return Promise.all(names.map((n) => readFile(join(d, n), "utf8")));
  };
  return { port: node.smtp[0]!.port, mailbox };
}

async function send(port: number, rcpt: string, subject: string): Promise<void> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<someone@remote.test>", 250);
    const r = await c.cmd(`RCPT TO:<${rcpt}>`);
    assert.equal(r.code, 250, `RCPT TO:<${rcpt}>: ${r.raw}`);
    await c.cmd("DATA", 354);
    await c.cmd(`Subject: ${subject}\r\n\r\nhello\r\n.`, 250);
    await c.cmd("QUIT", 221);
  } finally {
    c.close();
  }
}

void test("RCPT TO:<Postmaster> without a domain is accepted and delivered to the postmaster", async (t) => {
  const n = await startWith(t);
  await send(n.port, "Postmaster", "bare");
  await send(n.port, "pOsTmAsTeR", "bare-mixed-case");
  // A local domain without a postmaster of its own: the same mailbox.
  await send(n.port, "POSTMASTER@other.test", "other-domain");
  await waitFor(
    "three messages for the postmaster",
    async () => (await n.mailbox("example.test", "postmaster")).length === 3,
  );
  const subjects = (await n.mailbox("example.test", "postmaster"))
    .map((m) => /Subject: (\S+)/.exec(m)?.[1])
    .sort();
  assert.deepEqual(subjects, ["bare", "bare-mixed-case", "other-domain"]);
});

void test("smtp.postmaster names the postmaster's address; unknown users stay unknown", async (t) => {
  const n = await startWith(t, { postmaster: "ops@other.test" });
  await send(n.port, "Postmaster", "configured");
  await waitFor(
    "the message at ops@other.test",
    async () => (await n.mailbox("other.test", "ops")).length === 1,
  );
  assert.equal((await n.mailbox("example.test", "postmaster")).length, 0);

  const c = await SmtpClient.connect(n.port);
  t.after(() => c.close());
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  await c.cmd("MAIL FROM:<someone@remote.test>", 250);
  assert.equal((await c.cmd("RCPT TO:<nobody@example.test>")).code, 550);
  // Still no relay: postmaster at a foreign domain is that domain's.
  assert.equal((await c.cmd("RCPT TO:<postmaster@remote.test>")).code, 554);
  await c.cmd("QUIT", 221);
});
