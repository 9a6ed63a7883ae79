// Relaying through a REAL smarthost: a private Postfix that takes mail only after AUTH over
// implicit TLS (SASL through a private Dovecot's auth socket), with a certificate from a test CA
// made here, relaying on to smtp-sink (test/kit/smarthost.ts). A single node with smtp.forwardTo,
// forwardTls = implicit, forwardCaFile and forwardAuthFile relays a message that arrives with
// Postfix's Received: line naming the login; against the same Postfix the relay channel defers,
// with the reason in the outcome and the log, a wrong password (Postfix's 535), a certificate
// from a CA it does not trust or for another name (4.7.5), and STARTTLS required from the
// listener that offers none (4.7.10). Needs root (Postfix's daemons switch users).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import { createRelayChannel } from "../../src/delivery/relay.js";
import type { Outcome } from "../../src/proto/outcome.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { tcpDialer } from "../../src/world/dialer.js";
import { FakeClock } from "../kit/clock.js";
import { waitFor } from "../kit/load.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeResolver } from "../kit/resolver.js";
import { startSink, type Sink } from "../kit/sink.js";
import { startSmarthost, type Smarthost } from "../kit/smarthost.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { makeTestCa } from "../kit/test-ca.js";
import { job } from "./fixtures.js";

const root = process.getuid?.() === 0;
const USER = "relay@isp.test";
const PASSWORD = "s3cret-pw";

let dir = "";
let sink: Sink;
let smarthost: Smarthost;
let caFile = "";
let otherCaFile = "";
let authFile = "";
let badAuthFile = "";
const resolver = () =>
  fakeResolver({
    addresses: {
      "smart.test": { kind: "ok", records: ["127.0.0.1"] },
      "wrong.test": { kind: "ok", records: ["127.0.0.1"] },
    },
  });

before(async () => {
  if (!root) return;
  dir = await mkdtemp(join(tmpdir(), "mailyard-smarthost-postfix-"));
  const ca = await makeTestCa();
  const other = await makeTestCa("Another CA");
  caFile = join(dir, "ca.pem");
  otherCaFile = join(dir, "other-ca.pem");
  authFile = join(dir, "auth");
  badAuthFile = join(dir, "bad-auth");
  await writeFile(caFile, ca.cert);
  await writeFile(otherCaFile, other.cert);
  await writeFile(authFile, `${USER}:${PASSWORD}\n`, { mode: 0o600 });
  await writeFile(badAuthFile, `${USER}:not-the-password\n`, { mode: 0o600 });
  sink = await startSink();
  smarthost = await startSmarthost({
    sinkPort: sink.port,
    ...(await ca.issue(["smart.test"], ["127.0.0.1"])),
    users: { [USER]: PASSWORD },
    hostname: "smart.test",
  });
});

after(async () => {
  await smarthost?.stop();
  await sink?.stop();
  if (sink !== undefined) await rm(sink.dir, { recursive: true, force: true });
  if (dir !== "") await rm(dir, { recursive: true, force: true });
});

/** One delivery by a relay channel with these smarthost settings; the outcome and the SMTP log. */
async function relayOnce(smtp: Record<string, unknown>): Promise<{ out: Outcome; log: string }> {
  const logs = memoryLogSink();
  const relay = createRelayChannel({
    settings: settingsSchema.parse({ hostname: "relay.test", smtp }),
    resolver: resolver(),
    dialer: tcpDialer,
    clock: new FakeClock(),
    log: logs.for("SMTP"),
    hostname: "relay.test",
  });
  try {
    const [out] = await relay.deliver(job({ rcpts: ["bob@far.test"], route: "forward:*" }));
    const log = logs.records.map((r) => `${r.text} ${JSON.stringify(r.fields)}`).join("\n");
    return { out: out!, log };
  } finally {
    await relay.close();
  }
}

const implicit = (entry: string, more: Record<string, unknown> = {}) => ({
  forwardTo: [entry],
  forwardTls: "implicit",
  forwardCaFile: caFile,
  forwardAuthFile: authFile,
  ...more,
});

void test(
  "a node relays through Postfix over implicit TLS with AUTH: Postfix names the login",
  { skip: !root },
  async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), "mailyard-smarthost-node-"));
    const logs = memoryLogSink();
    const started: { node?: RunningNode } = {};
    t.after(async () => {
      await started.node?.stop();
      await rm(dataDir, { recursive: true, force: true });
    });
    const node = await startNode(
      settingsSchema.parse({
        dataDir,
        hostname: "mx.example.test",
        smtp: {
          listen: ["127.0.0.1:0"],
          relayNetworks: ["127.0.0.1/32"],
          ...implicit(`smart.test:${smarthost.implicitPort}`),
        },
        submission: { listen: [] },
        pop3: { listen: [] },
        http: { listen: "127.0.0.1:0" },
        log: { stdout: false },
      }),
      { log: logs, world: { resolver: resolver() } },
    );
    started.node = node;
    const c = await SmtpClient.connect(node.smtp[0]!.port);
    try {
      await c.expect(220);
      await c.cmd("EHLO client.test", 250);
      await c.cmd("MAIL FROM:<alice@example.test>", 250);
      await c.cmd("RCPT TO:<bob@far.test>", 250);
      await c.cmd("DATA", 354);
      c.send(
        "From: <alice@example.test>\r\nTo: <bob@far.test>\r\nSubject: via smarthost\r\n\r\nHello.\r\n.\r\n",
      );
      await c.expect(250);
      await c.cmd("QUIT", 221);
    } finally {
      c.close();
    }
    let arrived = "";
    await waitFor(
      "the message at the sink behind Postfix",
      async () => {
        arrived = (await sink.messages()).find((m) => m.includes("Subject: via smarthost")) ?? "";
        return arrived !== "";
      },
      60_000,
    ).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\n${await smarthost.log()}`);
    });
    // Postfix's Received: line (below smtp-sink's): TLS and SASL (ESMTPSA), the user Dovecot took.
    const head = arrived.slice(0, arrived.search(/\r?\n\r?\n/));
    const received = head.split(/\r?\n(?![ \t])/).filter((f) => f.startsWith("Received:"));
    const postfix = received.find((f) => /by smart\.test \(Postfix\)/.test(f));
    assert.ok(postfix !== undefined, head);
    assert.match(postfix, /\(Authenticated sender: relay@isp\.test\)/);
    assert.match(postfix, /with ESMTPSA/);
    assert.match(postfix, /from mx\.example\.test/);
    const connected = logs.records.find((r) => r.text === "connected" && r.tag === "SMTP");
    assert.equal(connected?.fields.tls, true);
    assert.equal(connected?.fields.auth, "PLAIN");
  },
);

void test(
  "an IP address as written in forwardTo is checked against the certificate's IP addresses",
  { skip: !root },
  async () => {
    const { out } = await relayOnce(implicit(`127.0.0.1:${smarthost.implicitPort}`));
    assert.equal(out.kind, "delivered", JSON.stringify(out));
  },
);

void test(
  "a wrong password defers with Postfix's reply, in the outcome and the log",
  { skip: !root },
  async () => {
    const { out, log } = await relayOnce(
      implicit(`smart.test:${smarthost.implicitPort}`, { forwardAuthFile: badAuthFile }),
    );
    assert.equal(out.kind, "deferred");
    assert.equal(out.reply.code, 451);
    assert.equal(out.reply.enhanced, "4.7.0");
    assert.match(out.reply.text, /refused the AUTH PLAIN: 535 5\.7\.8 Error: authentication failed/);
    assert.match(log, /smarthost requirement not met .*535 5\.7\.8/);
  },
);

void test(
  "a certificate from another CA, or for another name, defers with 4.7.5",
  { skip: !root },
  async () => {
    const untrusted = await relayOnce(
      implicit(`smart.test:${smarthost.implicitPort}`, { forwardCaFile: otherCaFile }),
    );
    assert.equal(untrusted.out.kind, "deferred");
    assert.equal(untrusted.out.reply.enhanced, "4.7.5");
    assert.match(untrusted.out.reply.text, /not verified: chain not trusted/);
    assert.match(untrusted.log, /session failed .*not verified: chain not trusted/);

    const wrongName = await relayOnce(implicit(`wrong.test:${smarthost.implicitPort}`));
    assert.equal(wrongName.out.kind, "deferred");
    assert.equal(wrongName.out.reply.enhanced, "4.7.5");
    assert.match(
      wrongName.out.reply.text,
      /Host: wrong\.test\. is not in the cert's altnames: DNS:smart\.test/,
    );
  },
);

void test(
  "STARTTLS required against Postfix's listener without it defers with 4.7.10",
  { skip: !root },
  async () => {
    const { out, log } = await relayOnce(
      implicit(`smart.test:${smarthost.plainPort}`, { forwardTls: "starttls" }),
    );
    assert.equal(out.kind, "deferred");
    assert.equal(out.reply.enhanced, "4.7.10");
    assert.match(out.reply.text, /TLS is required, but was not offered by host smart\.test\[127\.0\.0\.1\]/);
    assert.match(log, /smarthost requirement not met/);
  },
);
