// Sender checks on a real cluster of one frontend (two with the reject setting) and two
// backends: the frontend asks the backends (cluster API, cached) whether an unauthenticated
// client's local-domain MAIL FROM exists (smtp.verifyLocalSenders) and which addresses a
// logged-in account owns (smtp.senderLogin), as it asks about recipients. The clients are
// "outside": the frontends trust no network (smtp.relayNetworks = []).
import { test } from "node:test";
import assert from "node:assert/strict";
import { SmtpClient, type SmtpReply } from "../kit/smtp-client.js";
import { startCluster, waitForMail, type Cluster } from "./fixtures.js";

const OUTSIDE = { smtp: { relayNetworks: [], authRequiresTls: false } };

async function accounts(c: Cluster): Promise<void> {
  await c.directory.addDomain("local.test");
  for (const [address, home] of [
    ["alice@local.test", "b1"],
    ["bob@local.test", "b2"],
  ] as const) {
    await c.directory.addAccount(address, `${address}-pw`);
    await c.state.setHome(address, home);
  }
  await c.directory.addAlias("info@local.test", ["alice@local.test"]);
}

async function session(t: { after(fn: () => void): void }, port: number): Promise<SmtpClient> {
  const s = await SmtpClient.connect(port);
  t.after(() => s.close());
  await s.expect(220);
  await s.cmd("EHLO outside.test", 250);
  return s;
}

/** MAIL FROM, and when it is accepted one message to bob; the MAIL reply and the final one. */
async function attempt(
  s: SmtpClient,
  from: string,
  header = "",
): Promise<{ mail: SmtpReply; end?: SmtpReply }> {
  const mail = await s.cmd(`MAIL FROM:<${from}>`);
  if (mail.code !== 250) return { mail };
  await s.cmd("RCPT TO:<bob@local.test>", 250);
  await s.cmd("DATA", 354);
  return { mail, end: await s.cmd(`${header}Subject: from ${from}\r\n\r\nHello.\r\n.`) };
}

test("a frontend refuses an unknown local sender from outside (550 5.7.1 at MAIL), asking the backends; known, alias, remote and null senders pass", async (t) => {
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: OUTSIDE },
    { id: "b1", role: "backend" },
    { id: "b2", role: "backend" },
  ]);
  await accounts(c);
  const s = await session(t, c.node("f1").smtp[0]!.port);

  const nobody = await attempt(s, "nobody@local.test");
  assert.match(nobody.mail.raw, /^550 5\.7\.1 /);
  assert.equal((await attempt(s, "NOBODY@Local.Test")).mail.code, 550);
  for (const from of ["alice@local.test", "info@local.test", "someone@remote.test", ""]) {
    const r = await attempt(s, from);
    assert.equal(r.mail.code, 250, `MAIL FROM:<${from}>: ${r.mail.raw}`);
    assert.equal(r.end?.code, 250, from);
  }
  await waitForMail(c, "b2", "bob@local.test", 4);
  // The frontend asked a backend, it did not guess.
  const asked = ["b1", "b2"].flatMap((id) =>
    c.logs
      .get(id)!
      .records.filter((r) => r.text === "cluster api request" && r.fields["path"] === "/cluster/v1/lookup"),
  );
  assert.ok(asked.length > 0);
});

test("smtp.localSenderFromOutside = reject refuses even existing local senders from outside; remote and null senders pass", async (t) => {
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: { smtp: { ...OUTSIDE.smtp, localSenderFromOutside: "reject" } } },
    { id: "b1", role: "backend" },
    { id: "b2", role: "backend" },
  ]);
  await accounts(c);
  const s = await session(t, c.node("f1").smtp[0]!.port);
  const alice = await attempt(s, "alice@local.test");
  assert.match(alice.mail.raw, /^550 5\.7\.1 /);
  assert.equal((await attempt(s, "nobody@local.test")).mail.code, 550);
  assert.equal((await attempt(s, "someone@remote.test")).end?.code, 250);
  assert.equal((await attempt(s, "")).end?.code, 250);
  await waitForMail(c, "b2", "bob@local.test", 2);
});

test("a frontend binds a logged-in user's senders to what the account owns, grants read from a backend", async (t) => {
  const c = await startCluster(t, [
    { id: "f1", role: "frontend", extra: { ...OUTSIDE, submission: { listen: ["127.0.0.1:0"] } } },
    { id: "b1", role: "backend" },
    { id: "b2", role: "backend" },
  ]);
  await accounts(c);
  await c.directory.grantSender("alice@local.test", "shared@local.test");
  const s = await session(t, c.node("f1").submission[0]!.port);
  const b64 = Buffer.from("\0alice@local.test\0alice@local.test-pw").toString("base64");
  await s.cmd(`AUTH PLAIN ${b64}`, 235);

  const bob = await attempt(s, "bob@local.test");
  assert.equal(
    bob.mail.raw,
    "553 5.7.1 <bob@local.test>: Sender address not owned by user alice@local.test\r\n",
  );
  assert.equal((await attempt(s, "someone@remote.test")).mail.code, 553);
  const forged = await attempt(s, "alice@local.test", "From: <bob@local.test>\r\n");
  assert.match(forged.end?.raw ?? "", /^550 5\.7\.1 <bob@local\.test>: /);
  const nullForged = await attempt(s, "", "From: <bob@local.test>\r\n");
  assert.match(nullForged.end?.raw ?? "", /^550 5\.7\.1 /);
  for (const from of ["alice@local.test", "info@local.test", "shared@local.test"]) {
    const r = await attempt(s, from, `From: <${from}>\r\n`);
    assert.equal(r.end?.code, 250, `${from}: ${r.mail.raw} ${r.end?.raw ?? ""}`);
  }
  const mail = await waitForMail(c, "b2", "bob@local.test", 3);
  assert.equal(mail.length, 3);
  const grantsAsked = ["b1", "b2"].flatMap((id) =>
    c.logs
      .get(id)!
      .records.filter(
        (r) => r.text === "cluster api request" && r.fields["path"] === "/cluster/v1/sender-grants",
      ),
  );
  assert.ok(grantsAsked.length > 0);
});
