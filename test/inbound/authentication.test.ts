// Inbound SPF, DKIM, DMARC and ARC over real SMTP sessions on one node, DNS from the injected
// fake resolver (.test names only): a signed message from an SPF-listed address passes all three;
// a forged sender of a p=reject domain gets 550 5.7.1 and nothing is stored; p=quarantine gets
// the quarantine header; a DNS failure is temperror and the mail is accepted; a forged
// Authentication-Results claiming our authserv-id is removed; logged-in and relayNetworks
// sessions are not checked; server rules and a Sieve script see the header (issue 14 item 4).
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dkimSign } from "mailauth";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeResolver } from "../kit/resolver.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { waitFor } from "../kit/load.js";

const CLIENT = "127.0.0.5";
const HOST = "mx.example.test";
let dataDir = "";
let node: RunningNode;
let sets: string[] = [];
const logs = memoryLogSink();
const quiet = {
  out: () => undefined,
  err: (t: string) => void process.stderr.write(t + "\n"),
  env: {},
  cwd: tmpdir(),
};
const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const publicB64 = keys.publicKey.export({ type: "spki", format: "der" }).toString("base64");
const privatePem = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();

const resolver = fakeResolver({
  txt: {
    "good.test": ["v=spf1 ip4:127.0.0.5 -all"],
    "sel._domainkey.good.test": [`v=DKIM1; k=rsa; p=${publicB64}`],
    "_dmarc.good.test": ["v=DMARC1; p=reject"],
    "strict.test": ["v=spf1 ip4:192.0.2.1 -all"],
    "_dmarc.strict.test": ["v=DMARC1; p=reject"],
    "careful.test": ["v=spf1 ip4:192.0.2.1 -all"],
    "nodmarc.test": ["v=spf1 ip4:192.0.2.1 -all"],
    "_dmarc.careful.test": ["v=DMARC1; p=quarantine"],
  },
  failing: ["broken.test"],
});

const files = async (user: string, sub = "new"): Promise<string[]> => {
  const dir = join(dataDir, "mail", "example.test", user, sub);
  const names = await readdir(dir).catch(() => [] as string[]);
  return Promise.all(names.map((n) => readFile(join(dir, n), "latin1")));
};

/** One SMTP transaction from `from` (a client outside relayNetworks); the final reply. */
async function send(from: string, to: string, message: string, localAddress = CLIENT): Promise<number> {
  const c = await SmtpClient.connect(node.smtp[0]!.port, "127.0.0.1", localAddress);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.good.test", 250);
    await c.cmd(`MAIL FROM:<${from}>`, 250);
    await c.cmd(`RCPT TO:<${to}>`, 250);
    await c.cmd("DATA", 354);
    c.send(message.replace(/\r?\n/g, "\r\n").replace(/\r\n$/, "") + "\r\n.\r\n");
    const r = await c.expect();
    await c.cmd("QUIT", 221);
    return r.code;
  } finally {
    c.close();
  }
}

const plain = (from: string, subject: string, extra = ""): string =>
  `${extra}From: <${from}>\r\nTo: <alice@example.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, "")}@x.test>\r\n\r\nHello.\r\n`;

const oneFor = async (user: string, subject: string): Promise<string> => {
  let found: string | undefined;
  await waitFor(`"${subject}" in ${user}'s mailbox`, async () => {
    found = (await files(user)).find((m) => m.includes(`Subject: ${subject}`));
    return found !== undefined;
  });
  return found!;
};

const resultsFields = (m: string): string[] =>
  m
    .slice(0, m.indexOf("\r\n\r\n"))
    .split(/\r\n(?![ \t])/)
    .filter((f) => /^authentication-results:/i.test(f));

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mailyard-auth-"));
  const settings = settingsSchema.parse({
    dataDir,
    hostname: HOST,
    smtp: { listen: ["127.0.0.1:0"], relayNetworks: ["127.0.0.1/32"] },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: logs, world: { resolver } });
  sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal(await cli(["domain", "add", "example.test", ...sets], quiet), 0);
  for (const u of ["alice", "bob", "carl"]) {
    assert.equal(await cli(["account", "add", `${u}@example.test`, "--password", "pw", ...sets], quiet), 0);
  }
  const script = join(dataDir, "bob.sieve");
  await writeFile(
    script,
    'require ["fileinto"];\nif header :contains "Authentication-Results" "dmarc=fail" { fileinto "Junk"; }\n',
  );
  assert.equal(await cli(["sieve", "put", "bob@example.test", script, ...sets], quiet), 0);
  const rules = join(dataDir, "server.rules");
  await writeFile(
    rules,
    '((9,dmarc,(("Header Field",is,"Authentication-Results: *dmarc=fail*"),("Any Recipient",is,"carl@example.test")),(("Reject with","DMARC failed, refused by a server rule"))))',
  );
  assert.equal(await cli(["rules", "set", "server", "--file", rules, ...sets], quiet), 0);
});

after(async () => {
  await node?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test("a DKIM-signed message from an SPF-listed client passes SPF, DKIM and DMARC", async () => {
  const raw = Buffer.from(plain("news@good.test", "Signed news").replace(/\r?\n/g, "\r\n"));
  // mailauth reads signatureData (its .d.ts names top-level fields it does not use).
  const { signatures } = await dkimSign(raw, {
    canonicalization: "relaxed/relaxed",
    signatureData: [{ signingDomain: "good.test", selector: "sel", privateKey: privatePem }],
  } as unknown as Parameters<typeof dkimSign>[1]);
  assert.equal(await send("news@good.test", "alice@example.test", signatures + raw.toString()), 250);
  const m = await oneFor("alice", "Signed news");
  const [ar, ...more] = resultsFields(m);
  assert.deepEqual(more, [], "one Authentication-Results field");
  assert.match(ar!, new RegExp(`^Authentication-Results: ${HOST.replace(/\./g, "\\.")};`));
  assert.match(ar!, /dkim=pass[^;]*header\.i=@good\.test header\.s=sel/);
  assert.match(ar!, /spf=pass/);
  assert.match(ar!, /dmarc=pass/);
  assert.doesNotMatch(m, /X-Mailyard-Quarantine/);
  const line = logs.records.find((r) => r.text === "authentication" && r.fields["from"] === "news@good.test");
  assert.equal(line?.fields["dmarc"], "pass");
});

test("a forged sender of a p=reject domain gets 550 5.7.1 at end of data and nothing is stored", async () => {
  const before = (await files("alice")).length;
  assert.equal(
    await send("ceo@strict.test", "alice@example.test", plain("ceo@strict.test", "Wire money")),
    550,
  );
  assert.equal((await files("alice")).length, before);
  const line = logs.records.find(
    (r) => r.text === "authentication" && r.fields["from"] === "ceo@strict.test",
  );
  assert.equal(line?.fields["spf"], "fail");
  assert.equal(line?.fields["dmarc"], "fail");
  assert.equal(line?.fields["action"], "reject-dmarc");
});

test("a p=quarantine failure is accepted with the quarantine header, and SPF fail is only marked", async () => {
  assert.equal(
    await send("info@careful.test", "alice@example.test", plain("info@careful.test", "Careful")),
    250,
  );
  const m = await oneFor("alice", "Careful");
  assert.match(m, /\r\nX-Mailyard-Quarantine: dmarc\r\n/);
  const [ar] = resultsFields(m);
  assert.match(ar!, /spf=fail/);
  assert.match(ar!, /dmarc=fail/);
});

test("a DNS failure is temperror and the message is accepted", async () => {
  assert.equal(await send("x@broken.test", "alice@example.test", plain("x@broken.test", "Broken DNS")), 250);
  const [ar] = resultsFields(await oneFor("alice", "Broken DNS"));
  assert.match(ar!, /spf=temperror/);
  assert.match(ar!, /dmarc=temperror/);
});

test("an incoming Authentication-Results claiming our authserv-id is removed; others are kept", async () => {
  const forged =
    `Authentication-Results: ${HOST.toUpperCase()};\r\n dkim=pass; spf=pass; dmarc=pass (forged)\r\n` +
    `Authentication-Results: (comment) ${HOST} 1; dmarc=pass (forged too)\r\n` +
    "Authentication-Results: other.test; spf=pass\r\n";
  assert.equal(
    await send("ceo@careful.test", "alice@example.test", plain("ceo@careful.test", "Forged AR", forged)),
    250,
  );
  const m = await oneFor("alice", "Forged AR");
  assert.doesNotMatch(m, /forged/);
  const fields = resultsFields(m);
  assert.equal(fields.length, 2);
  assert.match(
    fields[0]!,
    new RegExp(`^Authentication-Results: ${HOST.replace(/\./g, "\\.")};[^]*dmarc=fail`),
  );
  assert.equal(fields[1], "Authentication-Results: other.test; spf=pass");
});

test("clients in smtp.relayNetworks are not checked", async () => {
  assert.equal(
    await send("ceo@strict.test", "alice@example.test", plain("ceo@strict.test", "Trusted"), "127.0.0.1"),
    250,
  );
  assert.deepEqual(resultsFields(await oneFor("alice", "Trusted")), []);
});

test("server rules see Authentication-Results: a Header Field rule on dmarc=fail rejects", async () => {
  const c = await SmtpClient.connect(node.smtp[0]!.port, "127.0.0.1", CLIENT);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.good.test", 250);
    await c.cmd("MAIL FROM:<info@careful.test>", 250);
    await c.cmd("RCPT TO:<carl@example.test>", 250);
    await c.cmd("DATA", 354);
    c.send(plain("info@careful.test", "For carl") + ".\r\n");
    const r = await c.expect(550);
    assert.match(r.raw, /DMARC failed, refused by a server rule/);
  } finally {
    c.close();
  }
});

test("Sieve sees Authentication-Results: dmarc=fail is filed into Junk", async () => {
  assert.equal(
    await send("info@careful.test", "bob@example.test", plain("info@careful.test", "Junk me")),
    250,
  );
  let junk: string[] = [];
  await waitFor(
    "a message in bob's .Junk/new",
    async () => (junk = await files("bob", ".Junk/new")).length === 1,
  );
  assert.match(junk[0]!, /dmarc=fail/);
  assert.deepEqual(await files("bob"), [], "nothing in INBOX");
});

test("smtp.spfFail = reject, set live with mailyard settings: SPF fail gets 550 5.7.23", async () => {
  assert.equal(await send("x@nodmarc.test", "alice@example.test", plain("x@nodmarc.test", "Marked")), 250);
  assert.equal(await cli(["settings", "set", "smtp.spfFail", "reject", ...sets], quiet), 0);
  await waitFor("the node applies smtp.spfFail", () =>
    logs.records.some((r) => r.text === "setting applied" && r.fields["key"] === "smtp.spfFail"),
  );
  const c = await SmtpClient.connect(node.smtp[0]!.port, "127.0.0.1", CLIENT);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.good.test", 250);
    await c.cmd("MAIL FROM:<x@nodmarc.test>", 250);
    await c.cmd("RCPT TO:<alice@example.test>", 250);
    await c.cmd("DATA", 354);
    c.send(plain("x@nodmarc.test", "Refused") + ".\r\n");
    const r = await c.expect(550);
    assert.match(r.raw, /^550 5\.7\.23 SPF validation failed/);
  } finally {
    c.close();
  }
  // Mail that passes SPF is still accepted.
  assert.equal(
    await send("news@good.test", "alice@example.test", plain("news@good.test", "Still fine")),
    250,
  );
});
