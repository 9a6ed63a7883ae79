// Internationalised domain names end to end: the CLI (real processes, real files) takes a domain
// and an account typed as U-labels and stores them as A-labels; the node (in-process, real
// sockets) accepts mail for the account at RCPT in either form, U-labels with SMTPUTF8 and
// A-labels without, and delivers both to its Maildir; mail relayed to a peer without SMTPUTF8
// names the IDN as A-labels on the wire.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode } from "../../src/server/node.js";
import { startFakeSmtpServer } from "../kit/fake-smtp-server.js";
import { waitFor } from "../kit/load.js";
import { memoryLogSink } from "../kit/log.js";
import { freePort } from "../kit/ports.js";
import { fakeResolver } from "../kit/resolver.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { mailyard } from "../cli/run-cli.js";

void test("mail to user@bücher.test: accepted at RCPT as U-labels (SMTPUTF8) and as A-labels, delivered; relayed IDNs go as A-labels", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-idn-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  // Before the node runs: the CLI opens the state file in dataDir itself.
  const offline = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${await freePort()}`];
  const dom = await mailyard(["domain", "add", "Bücher.test", ...offline]);
  assert.equal(dom.code, 0, dom.err);
  assert.equal(dom.out, "domain xn--bcher-kva.test added\n");
  const acc = await mailyard(["account", "add", "user@bücher.test", "--password", "pw", ...offline]);
  assert.equal(acc.code, 0, acc.err);
  assert.equal(acc.out, "account user@xn--bcher-kva.test added\n");
  // Either spelling finds it again.
  const dup = await mailyard(["account", "add", "user@xn--bcher-kva.test", "--password", "pw", ...offline]);
  assert.equal(dup.code, 1);
  assert.match(dup.err, /exists/);
  const list = await mailyard(["account", "list", "bücher.test", "--json", ...offline]);
  assert.deepEqual(
    (JSON.parse(list.out) as { address: string }[]).map((a) => a.address),
    ["user@xn--bcher-kva.test"],
  );

  const peer = await startFakeSmtpServer(); // no SMTPUTF8 in its EHLO
  const resolver = fakeResolver({
    mx: {
      "xn--mller-kva.test": { kind: "ok", records: [{ exchange: "mx.xn--mller-kva.test", priority: 10 }] },
    },
    addresses: { "mx.xn--mller-kva.test": { kind: "ok", records: ["127.0.0.1"] } },
  });
  const node = await startNode(
    settingsSchema.parse({
      dataDir,
      hostname: "mx.example.test",
      // An IDN as the EHLO name: it goes as A-labels (RFC 6531 §3.7.1).
      smtp: {
        listen: ["127.0.0.1:0"],
        outbound: { port: peer.port, starttls: false, helo: "mx.bücher.test" },
      },
      submission: { listen: [] },
      submissions: { listen: [] },
      pop3: { listen: [] },
      http: { listen: "127.0.0.1:0" },
      log: { stdout: false },
    }),
    { log: memoryLogSink(), world: { resolver } },
  );
  t.after(async () => {
    await node.stop();
    await peer.close();
  });

  const c = await SmtpClient.connect(node.smtp[0]!.port);
  t.after(() => c.close());
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  const send = async (mail: string, rcpt: string, subject: string): Promise<number> => {
    await c.cmd(mail, 250);
    const r = await c.cmd(rcpt);
    if (r.code !== 250) {
      await c.cmd("RSET", 250);
      return r.code;
    }
    await c.cmd("DATA", 354);
    await c.cmd(`Subject: ${subject}\r\n\r\nhello\r\n.`, 250);
    return r.code;
  };
  assert.equal(
    await send("MAIL FROM:<s@remote.test> SMTPUTF8", "RCPT TO:<user@bücher.test>", "u-label"),
    250,
  );
  assert.equal(await send("MAIL FROM:<s@remote.test>", "RCPT TO:<user@xn--bcher-kva.test>", "a-label"), 250);
  assert.equal(await send("MAIL FROM:<s@remote.test> SMTPUTF8", "RCPT TO:<User@BÜCHER.test>", "cased"), 250);
  // A U-label without SMTPUTF8 stays refused (RFC 6531 §3.2), and so does an unknown user.
  assert.equal(await send("MAIL FROM:<s@remote.test>", "RCPT TO:<user@bücher.test>", "no"), 553);
  assert.equal(await send("MAIL FROM:<s@remote.test> SMTPUTF8", "RCPT TO:<nobody@bücher.test>", "no"), 550);

  const box = join(dataDir, "mail", "xn--bcher-kva.test", "user", "new");
  const subjects = async (): Promise<string[]> => {
    const names = await readdir(box).catch(() => []);
    const texts = await Promise.all(names.map((n) => readFile(join(box, n), "utf8")));
    return texts.map((x) => /^Subject: (.*)$/m.exec(x)?.[1]?.trim() ?? "").sort();
  };
  await waitFor("three messages in the Maildir", async () => (await subjects()).length === 3, 15_000);
  assert.deepEqual(await subjects(), ["a-label", "cased", "u-label"]);

  // Relayed: the sender asked for SMTPUTF8 for its U-labels only; the peer lacks it.
  assert.equal(await send("MAIL FROM:<user@bücher.test> SMTPUTF8", "RCPT TO:<x@müller.test>", "out"), 250);
  await c.cmd("QUIT", 221);
  await peer.waitFor(() => peer.messages.length === 1);
  const tr = peer.sessions[0]!.transcript;
  assert.ok(tr.includes("C: EHLO mx.xn--bcher-kva.test"), tr.join("\n"));
  assert.match(tr.find((l) => l.startsWith("C: MAIL")) ?? "", /^C: MAIL FROM:<user@xn--bcher-kva\.test>/);
  assert.ok(!tr.some((l) => l.includes("SMTPUTF8")), tr.join("\n"));
  assert.deepEqual(peer.messages[0]!.rcptTo, ["x@xn--mller-kva.test"]);
});
