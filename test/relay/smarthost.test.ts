// Relaying through a smarthost (smtp.forwardTo host:port with smtp.forwardTls, forwardVerify,
// forwardCaFile, forwardAuthFile) against the fake server with certificates from a test CA made
// here: implicit TLS and required STARTTLS with a verified certificate, AUTH PLAIN and LOGIN only
// over TLS, and every unmet requirement a 4.7.x deferral (never a bounce) after which the next
// forwardTo host is tried. Nothing is sent before the certificate has been checked.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../../src/config/settings.js";
import type { Outcome } from "../../src/proto/outcome.js";
import { startFakeSmtpServer, type FakeSmtpOptions, type FakeSmtpServer } from "../kit/fake-smtp-server.js";
import { fakeResolver } from "../kit/resolver.js";
import { makeTestCa } from "../kit/test-ca.js";
import { job, relayChannel } from "./fixtures.js";

const ok = <T>(...records: T[]) => ({ kind: "ok" as const, records });
const resolver = () =>
  fakeResolver({
    addresses: { "smart.test": ok("127.0.0.1"), "smart2.test": ok("127.0.0.1") },
  });

const pki = (async () => {
  const ca = await makeTestCa();
  const other = await makeTestCa("Another CA");
  return {
    ca,
    good: await ca.issue(["smart.test", "smart2.test"]),
    wrongName: await ca.issue(["elsewhere.test"]),
    otherCa: await other.issue(["smart.test"]),
  };
})();

type Script = NonNullable<FakeSmtpOptions["script"]>;

/** AUTH as a server would take it: PLAIN with the right initial response, or LOGIN in steps. */
function authScript(accept = true): Script {
  const plain = `AUTH PLAIN ${Buffer.from("\0relay@isp.test\0s3cr:et").toString("base64")}`;
  let login: string[] | null = null;
  return (line) => {
    if (line.startsWith("AUTH PLAIN"))
      return line === plain && accept ? "235 2.7.0 OK" : "535 5.7.8 Bad credentials";
    if (line === "AUTH LOGIN") {
      login = [];
      return "334 VXNlcm5hbWU6";
    }
    if (login === null) return undefined;
    login.push(Buffer.from(line, "base64").toString());
    if (login.length === 1) return "334 UGFzc3dvcmQ6";
    const good = login[0] === "relay@isp.test" && login[1] === "s3cr:et";
    login = null;
    return good && accept ? "235 2.7.0 OK" : "535 5.7.8 Bad credentials";
  };
}

interface Run {
  readonly out: Outcome[];
  readonly servers: readonly FakeSmtpServer[];
}

async function relayThrough(
  t: TestContext,
  servers: readonly FakeSmtpOptions[],
  smtp: Record<string, unknown>,
  names: readonly string[] = ["smart.test", "smart2.test"],
): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-smarthost-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { ca } = await pki;
  const caFile = join(dir, "ca.pem");
  await writeFile(caFile, ca.cert);
  const authFile = join(dir, "auth");
  await writeFile(authFile, "relay@isp.test:s3cr:et\n", { mode: 0o600 });
  const started = await Promise.all(servers.map((o) => startFakeSmtpServer(o)));
  const settings = settingsSchema.parse({
    hostname: "relay.test",
    smtp: {
      forwardTo: started.map((s, i) => `${names[i]}:${s.port}`),
      forwardCaFile: caFile,
      forwardAuthFile: authFile,
      ...smtp,
    },
  });
  const { relay } = relayChannel(settings, resolver());
  t.after(async () => {
    await relay.close();
    await Promise.all(started.map((s) => s.close()));
  });
  const out = await relay.deliver(
    job({ rcpts: ["a@far.test"], route: "forward:*", body: "Subject: s\r\n\r\nhi\r\n" }),
  );
  return { out, servers: started };
}

const commands = (s: FakeSmtpServer, n = 0): string[] =>
  (s.sessions[n]?.transcript ?? []).filter((l) => l.startsWith("C: ")).map((l) => l.slice(3).split(" ")[0]!);

const AUTH_EXT = ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "AUTH PLAIN LOGIN"];

void test("implicit TLS with a verified certificate, then AUTH PLAIN: the message arrives", async (t) => {
  const { good } = await pki;
  const { out, servers } = await relayThrough(
    t,
    [{ tls: good, implicitTls: true, extensions: AUTH_EXT, script: authScript() }],
    { forwardTls: "implicit" },
  );
  assert.equal(out[0]!.kind, "delivered", JSON.stringify(out[0]));
  const s = servers[0]!;
  assert.equal(s.sessions[0]!.tls, true);
  assert.deepEqual(commands(s).slice(0, 3), ["EHLO", "AUTH", "MAIL"]);
  assert.equal(s.messages[0]!.data.toString(), "Subject: s\r\n\r\nhi\r\n");
});

void test("STARTTLS required and offered: EHLO, STARTTLS, EHLO, AUTH LOGIN when PLAIN is not offered", async (t) => {
  const { good } = await pki;
  const ext = ["PIPELINING", "ENHANCEDSTATUSCODES", "AUTH LOGIN"];
  const { out, servers } = await relayThrough(t, [{ tls: good, extensions: ext, script: authScript() }], {
    forwardTls: "starttls",
  });
  assert.equal(out[0]!.kind, "delivered", JSON.stringify(out[0]));
  const s = servers[0]!;
  assert.deepEqual(commands(s).slice(0, 7), [
    "EHLO",
    "STARTTLS",
    "EHLO",
    "AUTH",
    "cmVsYXlAaXNwLnRlc3Q=",
    "czNjcjpldA==",
    "MAIL",
  ]);
  // Nothing of the login travelled before TLS.
  const plain = s.sessions[0]!.reads.slice(
    0,
    s.sessions[0]!.reads.findIndex((r) => r.startsWith("STARTTLS")) + 1,
  );
  assert.ok(!plain.join("").includes("AUTH"));
});

void test("a certificate from another CA defers with 4.7.5 before a byte is sent, and the next host is tried", async (t) => {
  const { otherCa, good } = await pki;
  const { out, servers } = await relayThrough(
    t,
    [
      { tls: otherCa, implicitTls: true, extensions: AUTH_EXT, script: authScript() },
      { tls: good, implicitTls: true, extensions: AUTH_EXT, script: authScript() },
    ],
    { forwardTls: "implicit" },
  );
  assert.equal(out[0]!.kind, "delivered", "the second smarthost took it");
  assert.deepEqual(commands(servers[0]!), [], "nothing said to the untrusted server");
  assert.equal(servers[1]!.messages.length, 1);
});

void test("untrusted chain, wrong name: deferred 4.7.5 with the reason; never bounced", async (t) => {
  const { otherCa, wrongName } = await pki;
  for (const [cert, why] of [
    [otherCa, /chain not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/],
    [wrongName, /does not match certificate's altnames/],
  ] as const) {
    const { out, servers } = await relayThrough(
      t,
      [{ tls: cert, implicitTls: true, extensions: AUTH_EXT, script: authScript() }],
      { forwardTls: "implicit" },
    );
    assert.equal(out[0]!.kind, "deferred");
    assert.equal(out[0]!.reply.code, 451);
    assert.equal(out[0]!.reply.enhanced, "4.7.5");
    assert.match(
      out[0]!.reply.text,
      /TLS is required with a verified certificate: certificate of smart\.test\[127\.0\.0\.1\]/,
    );
    assert.match(out[0]!.reply.text, why);
    assert.deepEqual(commands(servers[0]!), []);
  }
});

void test("with forwardVerify = false any certificate will do (still encrypted)", async (t) => {
  const { otherCa } = await pki;
  const { out, servers } = await relayThrough(
    t,
    [{ tls: otherCa, implicitTls: true, extensions: AUTH_EXT, script: authScript() }],
    { forwardTls: "implicit", forwardVerify: false },
  );
  assert.equal(out[0]!.kind, "delivered");
  assert.equal(servers[0]!.sessions[0]!.tls, true);
});

void test("STARTTLS required but not offered, or refused: 4.7.10, nothing sent but EHLO", async (t) => {
  const noTls = await relayThrough(t, [{ extensions: AUTH_EXT, script: authScript() }], {
    forwardTls: "starttls",
  });
  assert.equal(noTls.out[0]!.kind, "deferred");
  assert.equal(noTls.out[0]!.reply.enhanced, "4.7.10");
  assert.match(
    noTls.out[0]!.reply.text,
    /TLS is required, but was not offered by host smart\.test\[127\.0\.0\.1\]:\d+/,
  );
  assert.deepEqual(commands(noTls.servers[0]!), ["EHLO", "QUIT"]);

  const { good } = await pki;
  const refused = await relayThrough(
    t,
    [
      {
        tls: good,
        extensions: AUTH_EXT,
        script: (l) => (l === "STARTTLS" ? "454 4.7.0 TLS not available" : undefined),
      },
    ],
    { forwardTls: "starttls" },
  );
  assert.equal(refused.out[0]!.reply.enhanced, "4.7.10");
  assert.match(refused.out[0]!.reply.text, /refused STARTTLS: 454 4\.7\.0 TLS not available/);
  assert.ok(!commands(refused.servers[0]!).includes("MAIL"));
});

void test("implicit TLS to a server that speaks plaintext: 4.7.5 handshake failure", async (t) => {
  const { out } = await relayThrough(t, [{ extensions: AUTH_EXT }], { forwardTls: "implicit" });
  assert.equal(out[0]!.kind, "deferred");
  assert.equal(out[0]!.reply.enhanced, "4.7.5");
  assert.match(out[0]!.reply.text, /^TLS is required: TLS handshake failed/);
});

void test("a refused login defers with the server's words; a host without PLAIN or LOGIN is skipped with 4.7.4", async (t) => {
  const { good } = await pki;
  const bad = await relayThrough(
    t,
    [{ tls: good, implicitTls: true, extensions: AUTH_EXT, script: authScript(false) }],
    { forwardTls: "implicit" },
  );
  assert.equal(
    bad.out[0]!.kind,
    "deferred",
    "a 535 is our settings' fault, not the recipient's: never a bounce",
  );
  assert.equal(bad.out[0]!.reply.code, 451);
  assert.equal(bad.out[0]!.reply.enhanced, "4.7.0");
  assert.match(bad.out[0]!.reply.text, /refused the AUTH PLAIN: 535 5\.7\.8 Bad credentials/);
  assert.ok(!commands(bad.servers[0]!).includes("MAIL"));

  const cram = await relayThrough(
    t,
    [{ tls: good, implicitTls: true, extensions: ["PIPELINING", "AUTH CRAM-MD5"] }],
    { forwardTls: "implicit" },
  );
  assert.equal(cram.out[0]!.reply.enhanced, "4.7.4");
  assert.match(cram.out[0]!.reply.text, /offers no AUTH PLAIN or LOGIN \(AUTH CRAM-MD5\)/);
  assert.deepEqual(commands(cram.servers[0]!), ["EHLO", "QUIT"]);
});

void test("credentials are never sent without TLS: opportunistic to a host without STARTTLS defers 4.7.10", async (t) => {
  const { out, servers } = await relayThrough(t, [{ extensions: AUTH_EXT, script: authScript() }], {});
  assert.equal(out[0]!.kind, "deferred");
  assert.equal(out[0]!.reply.enhanced, "4.7.10");
  assert.match(out[0]!.reply.text, /Credentials are only sent over TLS/);
  assert.deepEqual(commands(servers[0]!), ["EHLO", "QUIT"]);
});

void test("without an auth file, opportunistic smarthosts behave as before: plaintext when TLS is not offered", async (t) => {
  const { out, servers } = await relayThrough(t, [{}], { forwardAuthFile: "" });
  assert.equal(out[0]!.kind, "delivered");
  assert.equal(servers[0]!.sessions[0]!.tls, false);
});

void test("the login file is read when the channel is made: one others may read stops it", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-smarthost-file-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const authFile = join(dir, "auth");
  await writeFile(authFile, "relay@isp.test:s3cr:et\n", { mode: 0o644 });
  const settings = settingsSchema.parse({
    smtp: { forwardTo: ["smart.test:465"], forwardAuthFile: authFile },
  });
  assert.throws(
    () => relayChannel(settings, resolver()),
    (e: Error) => e.name === "ConfigError" && /smtp\.forwardAuthFile: .*mode 0644/.test(e.message),
  );
});
