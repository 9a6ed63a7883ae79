// DKIM signing end to end on one node: `mailyard dkim keygen` makes the keys (RSA 2048 and
// Ed25519) and prints the TXT record; a message relayed to Postfix's smtp-sink carries exactly
// one signature, by the From: domain or its parent, that verifies with mailauth and with
// OpenDKIM (keys from Unbound on loopback, publishing the records keygen printed); a domain
// without a key goes out unsigned; a message OpenDKIM's milter signs verifies in Mailyard
// (dkim=pass in Authentication-Results), an rsa-sha1 one does not (RFC 8301); an alias forward
// is ARC-sealed; `dkim list` and `dkim remove` work on the shared state.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authenticate, dkimSign, dkimVerify } from "mailauth";
import { settingsSchema } from "../../src/config/settings.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { main as cli } from "../../src/cli/main.js";
import { mailauthResolver } from "../../src/inbound/mailauth-dns.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeResolver } from "../kit/resolver.js";
import { startSink, type Sink } from "../kit/sink.js";
import { freePort } from "../kit/ports.js";
import { waitFor } from "../kit/load.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { startUnbound, type Unbound } from "../kit/unbound.js";
import { opendkimSign, opendkimVerify } from "../kit/opendkim.js";
import { opendkimMilterSign } from "../kit/opendkim-milter.js";

let dataDir = "";
let node: RunningNode;
let sink: Sink;
let unbound: Unbound;
let sets: string[] = [];
const logs = memoryLogSink();
const records: Record<string, string> = {};
const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
const zone = {
  mx: { "good.test": { kind: "ok" as const, records: [{ exchange: "mx.good.test", priority: 10 }] } },
  addresses: { "mx.good.test": { kind: "ok" as const, records: ["127.0.0.2"] } },
  txt: {
    "_dmarc.other.test": ["v=DMARC1; p=none"],
    "o1._domainkey.other.test": [
      `v=DKIM1; k=rsa; p=${other.publicKey.export({ type: "spki", format: "der" }).toString("base64")}`,
    ],
  } as Record<string, string[]>,
};

async function mailyard(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io = {
    out: (t: string) => void (out += t + "\n"),
    err: (t: string) => void (err += t + "\n"),
    env: {},
    cwd: tmpdir(),
  };
  const code = await cli([...args, ...sets], io);
  return { code, out, err };
}

async function send(from: string, to: string, message: string, localAddress = "127.0.0.1"): Promise<number> {
  const c = await SmtpClient.connect(node.smtp[0]!.port, "127.0.0.1", localAddress);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
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

const message = (from: string, subject: string): string =>
  `From: <${from}>\r\nTo: <bob@good.test>\r\nSubject: ${subject}\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, "")}@x.test>\r\n\r\nHello,\r\n\r\nsigned body.\r\n`;

/** The sink's copy of the message with this subject (smtp-sink prepends its own X- fields). */
async function relayed(subject: string): Promise<string> {
  let found: string | undefined;
  await waitFor(`"${subject}" at the sink`, async () => {
    found = (await sink.messages()).find((m) => m.includes(`Subject: ${subject}`));
    return found !== undefined;
  });
  return found!.replace(/\r?\n/g, "\r\n");
}

const signatures = (m: string): string[] =>
  m
    .slice(0, m.indexOf("\r\n\r\n"))
    .split(/\r\n(?![ \t])/)
    .filter((f) => /^dkim-signature:/i.test(f));

const verifyWithMailauth = async (m: string) =>
  (await dkimVerify(Buffer.from(m), { resolver: mailauthResolver(fakeResolver({ txt: zone.txt })) as never }))
    .results;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "mailyard-dkim-"));
  const port = await freePort();
  sink = await startSink([], { host: "127.0.0.2", port });
  const settings = settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: { listen: ["127.0.0.1:0"], relayNetworks: ["127.0.0.1/32"], outbound: { port, starttls: false } },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    log: { stdout: false },
  });
  node = await startNode(settings, { log: logs, world: { resolver: fakeResolver(zone) } });
  sets = ["--set", `dataDir=${dataDir}`, "--set", `http.listen=127.0.0.1:${node.http.port}`];
  assert.equal((await mailyard(["domain", "add", "example.test"])).code, 0);
  assert.equal((await mailyard(["account", "add", "alice@example.test", "--password", "pw"])).code, 0);
  assert.equal((await mailyard(["alias", "add", "fwd@example.test", "bob@good.test"])).code, 0);
  for (const [domain, selector, algorithm] of [
    ["example.test", "sel1", "rsa"],
    ["ed.test", "ed1", "ed25519"],
  ] as const) {
    const r = await mailyard(["dkim", "keygen", domain, "--selector", selector, "--algorithm", algorithm]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, new RegExp(`${selector}\\._domainkey\\.${domain.replace(".", "\\.")}`));
    records[`${selector}._domainkey.${domain}`] = r.out.trim();
    // The node's resolver publishes it too (the fake resolver reads the zone at each lookup).
    zone.txt[`${selector}._domainkey.${domain}`] = [r.out.trim()];
  }
  unbound = await startUnbound(records);
});

after(async () => {
  await node?.stop();
  await sink?.stop();
  await unbound?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test("keygen prints the TXT record text: v=DKIM1, k=rsa or ed25519, the public key", () => {
  const rsa = records["sel1._domainkey.example.test"]!;
  assert.match(rsa, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
  // RSA 2048: a 294-byte SubjectPublicKeyInfo.
  assert.equal(Buffer.from(rsa.split("p=")[1]!, "base64").length, 294);
  const ed = records["ed1._domainkey.ed.test"]!;
  assert.match(ed, /^v=DKIM1; k=ed25519; p=/);
  assert.equal(Buffer.from(ed.split("p=")[1]!, "base64").length, 32, "RFC 8463 §4.2: the raw key");
});

test("a relayed message is signed once by its From: domain and verifies with mailauth and OpenDKIM", async () => {
  assert.equal(
    await send("alice@example.test", "bob@good.test", message("alice@example.test", "Signed RSA")),
    250,
  );
  const m = await relayed("Signed RSA");
  const sigs = signatures(m);
  assert.equal(sigs.length, 1);
  assert.match(sigs[0]!, /a=rsa-sha256/);
  assert.match(sigs[0]!, /d=example\.test/);
  assert.match(sigs[0]!, /s=sel1/);
  const [r] = await verifyWithMailauth(m);
  assert.equal(r?.status.result, "pass", JSON.stringify(r?.status));
  const od = await opendkimVerify(m, unbound.clientConfig);
  assert.match(od, /verification \(s=sel1, d=example\.test, 2048-bit key\) succeeded/, od);
});

test("Ed25519 (RFC 8463): signed with ed25519-sha256, verifies with mailauth and OpenDKIM", async () => {
  assert.equal(await send("carol@ed.test", "bob@good.test", message("carol@ed.test", "Signed Ed")), 250);
  const m = await relayed("Signed Ed");
  const sigs = signatures(m);
  assert.equal(sigs.length, 1);
  assert.match(sigs[0]!, /a=ed25519-sha256/);
  const [r] = await verifyWithMailauth(m);
  assert.equal(r?.status.result, "pass", JSON.stringify(r?.status));
  const od = await opendkimVerify(m, unbound.clientConfig);
  assert.match(od, /verification \(s=ed1, d=ed\.test, .*\) succeeded/, od);
});

test("a subdomain's mail is signed with the parent domain's key; a domain without a key goes unsigned", async () => {
  assert.equal(
    await send("news@lists.example.test", "bob@good.test", message("news@lists.example.test", "Sub")),
    250,
  );
  const sub = await relayed("Sub");
  assert.match(signatures(sub)[0] ?? "", /d=example\.test/);
  assert.equal((await verifyWithMailauth(sub))[0]?.status.result, "pass");
  assert.equal(await send("x@nokey.test", "bob@good.test", message("x@nokey.test", "No key")), 250);
  assert.deepEqual(signatures(await relayed("No key")), []);
});

/** The stored copy in alice's INBOX of the message with this subject. */
async function inbox(subject: string): Promise<string> {
  const dir = join(dataDir, "mail", "example.test", "alice", "new");
  let stored = "";
  await waitFor(`"${subject}" in alice's INBOX`, async () => {
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      const t = await readFile(join(dir, n), "utf8");
      if (t.includes(`Subject: ${subject}`)) stored = t;
    }
    return stored !== "";
  });
  return stored;
}

const otherPem = (): string => other.privateKey.export({ type: "pkcs8", format: "pem" }).toString();

test("a message OpenDKIM's milter signs (rsa-sha256) verifies in Mailyard: dkim=pass, DMARC pass", async () => {
  const raw = message("info@other.test", "From OpenDKIM").replace("bob@good.test", "alice@example.test");
  const signed = await opendkimMilterSign(raw, {
    domain: "other.test",
    selector: "o1",
    keyPem: otherPem(),
    from: "info@other.test",
    to: "alice@example.test",
  });
  assert.match(signed, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=other\.test; s=o1;/);
  assert.equal(await send("info@other.test", "alice@example.test", signed, "127.0.0.5"), 250);
  const stored = await inbox("From OpenDKIM");
  assert.match(
    stored,
    /Authentication-Results: mx\.example\.test;\r\n\tdkim=pass header\.i=@other\.test header\.s=o1/,
  );
  assert.match(stored, /dmarc=pass/);
});

test("RFC 8301: an rsa-sha1 signature (opendkim-testmsg signs so) is dkim=policy, and DMARC does not count it", async () => {
  const raw = message("info@other.test", "Old SHA-1").replace("bob@good.test", "alice@example.test");
  const signed = await opendkimSign(raw, "other.test", "o1", otherPem());
  assert.match(signed, /^DKIM-Signature: v=1; a=rsa-sha1;/);
  assert.equal(await send("info@other.test", "alice@example.test", signed, "127.0.0.5"), 250);
  const stored = await inbox("Old SHA-1");
  assert.match(stored, /\tdkim=policy \(rsa-sha1 is not accepted: RFC 8301\) header\.i=@other\.test/);
  assert.match(stored, /\tdmarc=fail /);
});

test("ARC (RFC 8617): a message from outside forwarded by an alias is sealed i=1 and the chain verifies", async () => {
  const raw = message("info@other.test", "Forwarded").replace("bob@good.test", "fwd@example.test");
  const { signatures: sig } = await dkimSign(Buffer.from(raw), {
    canonicalization: "relaxed/relaxed",
    signatureData: [
      {
        signingDomain: "other.test",
        selector: "o1",
        privateKey: other.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      },
    ],
  } as unknown as Parameters<typeof dkimSign>[1]);
  assert.equal(await send("info@other.test", "fwd@example.test", sig + raw, "127.0.0.5"), 250);
  const m = await relayed("Forwarded");
  const head = m.slice(0, m.indexOf("\r\n\r\n"));
  assert.match(head, /^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none; d=example\.test; s=sel1;/m);
  assert.match(
    head,
    /^ARC-Authentication-Results: i=1; mx\.example\.test;[^]*dkim=pass header\.i=@other\.test/m,
  );
  assert.match(head, /^ARC-Message-Signature: i=1;/m);
  assert.equal(signatures(m).length, 1, "the author's signature only: other.test is not ours");
  const next = await authenticate(Buffer.from(m), {
    ip: "127.0.0.1",
    helo: "mx.example.test",
    sender: "info@other.test",
    mta: "mx.good.test",
    resolver: mailauthResolver(fakeResolver({ txt: zone.txt })) as never,
    disableBimi: true,
  });
  assert.equal(next.arc === false ? "none" : next.arc.status.result, "pass");
  assert.equal(next.dkim.results[0]?.status.result, "pass", "the forward kept the author's signature intact");
});

test("dkim list shows the keys (never the private ones), keygen refuses a taken selector, dkim remove", async () => {
  const listed = await mailyard(["dkim", "list", "--json"]);
  assert.equal(listed.code, 0);
  const rows = JSON.parse(listed.out) as { domain: string; selector: string; algorithm: string }[];
  assert.deepEqual(
    rows.map((r) => `${r.domain} ${r.selector} ${r.algorithm}`),
    ["ed.test ed1 ed25519", "example.test sel1 rsa"],
  );
  assert.doesNotMatch(listed.out, /PRIVATE/);
  const again = await mailyard(["dkim", "keygen", "ed.test", "--selector", "ed1"]);
  assert.equal(again.code, 1, "the same selector twice is refused");
  assert.equal((await mailyard(["dkim", "remove", "ed.test"])).code, 0);
  assert.equal((await mailyard(["dkim", "remove", "ed.test"])).code, 1);
  assert.equal((await mailyard(["dkim", "list"])).out.trim().split("\n").length, 1);
});
