// Sender binding on a running single server, over real SMTP sessions with AUTH on the submission
// listener: an account may use as MAIL FROM and in From: only what it owns (itself, its aliases,
// its grants: directory/sender-owner.ts), as smtp.senderLogin says; grants made with the CLI
// through the admin API. Refused messages never reach a mailbox; the accepted ones all do.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as cli } from "../../src/cli/main.js";
import { settingsSchema } from "../../src/config/settings.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { systemClock } from "../../src/world/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { waitFor } from "../kit/load.js";
import { SmtpClient, type SmtpReply } from "../kit/smtp-client.js";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

interface Node {
  readonly node: RunningNode;
  readonly dataDir: string;
  readonly logs: ReturnType<typeof memoryLogSink>;
  readonly cliSets: string[];
  /** Messages in bob's Maildir. */
  bobMail(): Promise<number>;
}

async function startWith(t: TestContext, senderLogin?: string): Promise<Node> {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-senders-"));
  const logs = memoryLogSink();
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: {
      listen: ["127.0.0.1:0"],
      authRequiresTls: false,
      ...(senderLogin !== undefined ? { senderLogin } : {}),
    },
    submission: { listen: ["127.0.0.1:0"] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  const dir = openSqliteDirectory(join(dataDir, "mailyard.db"), systemClock);
  await dir.addDomain("example.test");
  await dir.addAccount("alice@example.test", "alice-pw");
  await dir.addAccount("bob@example.test", "bob-pw");
  await dir.addAlias("sales@example.test", ["alice@example.test", "carol@remote.test"]);
  // Nested: team@ → sales@ → alice.
  await dir.addAlias("team@example.test", ["sales@example.test"]);
  await dir.addAlias("bobs@example.test", ["bob@example.test"]);
  await dir.close();
  const node = await startNode(settings, { log: logs });
  t.after(async () => {
    await node.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    node,
    dataDir,
    logs,
    cliSets: ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`],
    bobMail: async () =>
      (await readdir(join(dataDir, "mail", "example.test", "bob", "new")).catch(() => [])).length,
  };
}

/** A session on the submission listener, logged in as alice. */
async function alice(t: TestContext, n: Node): Promise<SmtpClient> {
  const c = await SmtpClient.connect(n.node.submission[0]!.port);
  t.after(() => c.close());
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  await c.cmd(`AUTH PLAIN ${b64("\0alice@example.test\0alice-pw")}`, 235);
  return c;
}

/** One message with DATA; the reply after the final dot. */
async function viaData(
  c: SmtpClient,
  from: string,
  header: string,
  to = "bob@example.test",
): Promise<SmtpReply> {
  await c.cmd(`MAIL FROM:<${from}>`, 250);
  await c.cmd(`RCPT TO:<${to}>`, 250);
  await c.cmd("DATA", 354);
  return c.cmd(`${header}Subject: binding\r\n\r\nHello.\r\n.`);
}

test("enforce: alice may not use bob's or a foreign MAIL FROM (553 5.7.1), but her own, her aliases and her grants", async (t) => {
  const n = await startWith(t);
  assert.equal(
    await cli(["account", "grant-sender", "alice@example.test", "boss@example.test", ...n.cliSets]),
    0,
  );
  assert.equal(
    await cli(["account", "grant-sender", "alice@example.test", "@partner.test", ...n.cliSets]),
    0,
  );
  const c = await alice(t, n);

  const bob = await c.cmd("MAIL FROM:<bob@example.test>");
  assert.equal(
    bob.raw,
    "553 5.7.1 <bob@example.test>: Sender address not owned by user alice@example.test\r\n",
  );
  assert.equal((await c.cmd("MAIL FROM:<BOB@Example.Test>")).code, 553);
  assert.equal((await c.cmd("MAIL FROM:<someone@foreign.test>")).code, 553);
  // bob's alias delivers to bob, not to alice.
  assert.equal((await c.cmd("MAIL FROM:<bobs@example.test>")).code, 553);
  assert.equal(
    (await c.cmd("MAIL FROM:<x@sub.partner.test>")).code,
    553,
    "a domain grant is not its subdomains",
  );

  let accepted = 0;
  for (const from of [
    "alice@example.test",
    "Alice@EXAMPLE.test",
    "sales@example.test",
    "team@example.test",
    "boss@example.test",
    "anyone@partner.test",
  ]) {
    const r = await viaData(c, from, `From: <${from}>\r\n`);
    assert.equal(r.code, 250, `${from}: ${r.raw}`);
    accepted++;
  }
  await waitFor("the accepted messages in bob's mailbox", async () => (await n.bobMail()) === accepted);

  // Revoked: refused again.
  assert.equal(
    await cli(["account", "revoke-sender", "alice@example.test", "boss@example.test", ...n.cliSets]),
    0,
  );
  assert.equal((await c.cmd("MAIL FROM:<boss@example.test>")).code, 553);
  assert.ok(
    n.logs.records.some(
      (r) =>
        r.text === "sender refused" &&
        r.fields["user"] === "alice@example.test" &&
        r.fields["from"] === "bob@example.test" &&
        r.fields["where"] === "envelope",
    ),
  );
});

test("enforce: From: must be owned too (550 5.7.1 at end of DATA and BDAT), and <> needs an owned From:", async (t) => {
  const n = await startWith(t);
  const c = await alice(t, n);

  const forged = await viaData(c, "alice@example.test", "From: Bob <bob@example.test>\r\n");
  assert.equal(
    forged.raw,
    "550 5.7.1 <bob@example.test>: From: address not owned by user alice@example.test\r\n",
  );
  // Every author counts, in every From: field, folded or not, with white space before the colon.
  assert.equal(
    (await viaData(c, "alice@example.test", "From: alice@example.test, bob@example.test\r\n")).code,
    550,
  );
  assert.equal(
    (
      await viaData(
        c,
        "alice@example.test",
        "From: Alice\r\n <alice@example.test>\r\nFrom: <bob@example.test>\r\n",
      )
    ).code,
    550,
  );
  assert.equal((await viaData(c, "alice@example.test", "From : bob@example.test\r\n")).code, 550);
  assert.equal(
    (await viaData(c, "alice@example.test", "From: undisclosed\r\n")).code,
    550,
    "no address to check",
  );
  // The null sender with a foreign From:, or none at all.
  const bounce = await viaData(c, "", "From: <postmaster@foreign.test>\r\n");
  assert.equal(
    bounce.raw,
    "550 5.7.1 <postmaster@foreign.test>: From: address not owned by user alice@example.test\r\n",
  );
  assert.equal((await viaData(c, "", "To: bob@example.test\r\n")).code, 550);
  // Two recipients: the queue path, not delivery at receipt, refuses the same way.
  await c.cmd("MAIL FROM:<alice@example.test>", 250);
  await c.cmd("RCPT TO:<bob@example.test>", 250);
  await c.cmd("RCPT TO:<bobs@example.test>", 250);
  await c.cmd("DATA", 354);
  assert.equal((await c.cmd("From: bob@example.test\r\n\r\nx\r\n.")).code, 550);
  // BDAT: the From: split over two chunks.
  await c.cmd("MAIL FROM:<alice@example.test>", 250);
  await c.cmd("RCPT TO:<bob@example.test>", 250);
  const head = "Subject: x\r\nFrom: <bob@exa";
  c.send(`BDAT ${head.length}\r\n${head}`);
  await c.expect(250);
  const rest = "mple.test>\r\n\r\nbody\r\n";
  c.send(`BDAT ${rest.length} LAST\r\n${rest}`);
  assert.equal((await c.expect()).code, 550);

  // What she owns passes: her address as From: with <>, her alias, no From: at all.
  assert.equal((await viaData(c, "", "From: Alice <alice@example.test>\r\n")).code, 250);
  assert.equal((await viaData(c, "alice@example.test", "From: Sales <sales@example.test>\r\n")).code, 250);
  assert.equal((await viaData(c, "alice@example.test", "")).code, 250);
  await waitFor("three accepted messages for bob", async () => (await n.bobMail()) === 3);
  assert.equal(await n.bobMail(), 3);
});

test("senderLogin = envelope checks MAIL FROM only; off checks nothing", async (t) => {
  const env = await startWith(t, "envelope");
  const c = await alice(t, env);
  assert.equal((await c.cmd("MAIL FROM:<bob@example.test>")).code, 553);
  assert.equal((await viaData(c, "alice@example.test", "From: <bob@example.test>\r\n")).code, 250);
  assert.equal((await viaData(c, "", "From: <bob@example.test>\r\n")).code, 250);

  const off = await startWith(t, "off");
  const d = await alice(t, off);
  assert.equal((await viaData(d, "bob@example.test", "From: <bob@example.test>\r\n")).code, 250);
  assert.equal((await viaData(d, "x@foreign.test", "From: <x@foreign.test>\r\n")).code, 250);
});

test("grant-sender checks its input and needs the account; senders lists the grants", async (t) => {
  const n = await startWith(t);
  const out: string[] = [];
  const err: string[] = [];
  const io = {
    out: (s: string) => void out.push(s),
    err: (s: string) => void err.push(s),
    env: {},
    cwd: n.dataDir,
  };
  const run = (...args: string[]) => cli([...args, ...n.cliSets], io);
  assert.equal(await run("account", "grant-sender", "alice@example.test", "Shared@Example.test"), 0);
  assert.equal(await run("account", "grant-sender", "alice@example.test", "@Partner.test"), 0);
  assert.notEqual(await run("account", "grant-sender", "alice@example.test", "@partner.test"), 0);
  assert.notEqual(await run("account", "grant-sender", "nobody@example.test", "x@example.test"), 0);
  assert.notEqual(await run("account", "grant-sender", "alice@example.test", "not an address"), 0);
  assert.notEqual(await run("account", "revoke-sender", "alice@example.test", "never@example.test"), 0);
  out.length = 0;
  assert.equal(await run("account", "senders", "alice@example.test", "--json"), 0);
  assert.deepEqual(JSON.parse(out.join("")), ["@partner.test", "shared@example.test"]);
});
