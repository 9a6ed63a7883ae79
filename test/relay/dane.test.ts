// DANE (RFC 7672) against a real validating resolver: Debian's Unbound serving a zone signed at
// test time (so the AD bit is real, test/kit/dnssec-unbound.ts) with TLSA records for the MX
// hosts of receivers on loopback with real TLS. A DANE-EE match delivers (a self-signed
// certificate: names and CAs do not matter under DANE-EE), a DANE-TA match with the CA in the
// chain delivers, a mismatch defers 4.7.5 without sending, TLSA records in an unsigned zone (no
// AD) fall back to opportunistic TLS, and a domain whose DANE lookup fails defers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate, createHash } from "node:crypto";
import { settingsSchema } from "../../src/config/settings.js";
import { createRelayChannel } from "../../src/delivery/relay.js";
import { explainTlsPolicy, explanationLines } from "../../src/delivery/relay/tls-explain.js";
import type { TlsResult } from "../../src/delivery/relay/tls-report.js";
import type { Outcome } from "../../src/proto/outcome.js";
import { systemClock } from "../../src/world/clock.js";
import { tcpDialer } from "../../src/world/dialer.js";
import { startDnssecUnbound, type DnssecUnbound } from "../kit/dnssec-unbound.js";
import { startFakeSmtpServer, type FakeSmtpServer } from "../kit/fake-smtp-server.js";
import { silentLog } from "../kit/log.js";
import { freePort } from "../kit/ports.js";
import { fakeResolver } from "../kit/resolver.js";
import { makeTestCa, selfSigned } from "../kit/test-ca.js";
import { job } from "./fixtures.js";

const ok = <T>(...records: T[]) => ({ kind: "ok" as const, records });
const HOSTS = { good: "127.0.0.2", bad: "127.0.0.3", ta: "127.0.0.4", plain: "127.0.0.5" } as const;
type Name = keyof typeof HOSTS;
const mxOf = (n: Name): string => (n === "plain" ? "mx.plain.test" : `mx.${n}.dane.test`);
const domainOf = (n: Name): string => (n === "plain" ? "plain.test" : `${n}.dane.test`);

let port = 0;
let dns: DnssecUnbound;
const servers = new Map<Name, FakeSmtpServer>();

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const spki = (pem: string): Buffer =>
  new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });

before(async () => {
  port = await freePort();
  const ca = await makeTestCa("DANE TA");
  const good = await selfSigned(["not-the-mx.test"]);
  const other = await selfSigned(["mx.bad.dane.test"]);
  const published = await selfSigned(["mx.bad.dane.test"]);
  const ta = await ca.issue(["mx.ta.dane.test"]);
  const plain = await selfSigned(["mx.plain.test"]);
  const material: Record<Name, { key: string; cert: string }> = {
    good,
    bad: other,
    // The chain the server sends holds the CA (RFC 7672 §3.2.2).
    ta: { key: ta.key, cert: `${ta.cert.trim()}\n${ca.cert}` },
    plain,
  };
  for (const n of Object.keys(HOSTS) as Name[]) {
    servers.set(
      n,
      await startFakeSmtpServer({
        host: HOSTS[n],
        port,
        extensions: ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"],
        tls: material[n],
      }),
    );
  }
  const tlsa = (n: Name, data: string): string => `_${port}._tcp.${mxOf(n)}. 300 IN TLSA ${data}`;
  const rr = (n: Name): string[] => [
    `${domainOf(n)}. 300 IN MX 10 ${mxOf(n)}.`,
    `${mxOf(n)}. 300 IN A ${HOSTS[n]}`,
  ];
  dns = await startDnssecUnbound({
    signed: "dane.test",
    signedRecords: [
      ...rr("good"),
      tlsa("good", `3 1 1 ${sha256(spki(good.cert))}`),
      // An unusable PKIX-EE record beside it is ignored (RFC 7672 §3.1.3).
      tlsa("good", `1 1 1 ${"00".repeat(32)}`),
      ...rr("bad"),
      tlsa("bad", `3 1 1 ${sha256(spki(published.cert))}`),
      // many.dane.test: the good server under a TLSA RRset too big for one UDP answer (1232
      // bytes with its signature), so the query goes again over TCP (RFC 7766).
      "many.dane.test. 300 IN MX 10 mx.many.dane.test.",
      `mx.many.dane.test. 300 IN A ${HOSTS.good}`,
      ...Array.from(
        { length: 24 },
        (_, i) =>
          `_${port}._tcp.mx.many.dane.test. 300 IN TLSA 3 1 2 ${i.toString(16).padStart(2, "0").repeat(64)}`,
      ),
      `_${port}._tcp.mx.many.dane.test. 300 IN TLSA 3 1 1 ${sha256(spki(good.cert))}`,
      ...rr("ta"),
      tlsa("ta", `2 0 1 ${sha256(new X509Certificate(ca.cert).raw)}`),
    ],
    insecure: "plain.test",
    insecureRecords: [...rr("plain"), tlsa("plain", `3 1 1 ${"00".repeat(32)}`)],
  });
});

after(async () => {
  await Promise.all([...servers.values()].map((s) => s.close()));
  await dns?.stop();
});

function relay(outbound: Record<string, unknown> = {}) {
  const settings = settingsSchema.parse({
    hostname: "relay.test",
    smtp: {
      outbound: {
        port,
        tlsPolicy: "dane",
        daneResolver: dns.address,
        policyTimeoutSeconds: 5,
        connectTimeoutSeconds: 5,
        commandTimeoutSeconds: 5,
        ...outbound,
      },
    },
  });
  const names = Object.keys(HOSTS) as Name[];
  const resolver = fakeResolver({
    mx: {
      ...Object.fromEntries(names.map((n) => [domainOf(n), ok({ exchange: mxOf(n), priority: 10 })])),
      "many.dane.test": ok({ exchange: "mx.many.dane.test", priority: 10 }),
    },
    addresses: {
      ...Object.fromEntries(names.map((n) => [mxOf(n), ok(HOSTS[n])])),
      "mx.many.dane.test": ok(HOSTS.good),
    },
  });
  const results: TlsResult[] = [];
  const channel = createRelayChannel({
    settings,
    resolver,
    dialer: tcpDialer,
    clock: systemClock,
    log: silentLog("SMTP"),
    hostname: "relay.test",
    tlsReports: { record: (r) => results.push(r) },
  });
  return { channel, results };
}

async function send(r: ReturnType<typeof relay>, domain: string): Promise<Outcome> {
  const out = await r.channel.deliver(job({ rcpts: [`bob@${domain}`] }));
  return out[0]!;
}

test("DANE-EE: the server's key matches the secure TLSA record: delivered over TLS, names ignored", async () => {
  const r = relay();
  try {
    const out = await send(r, "good.dane.test");
    assert.equal(out.kind, "delivered", out.reply.text);
    assert.ok(servers.get("good")!.sessions.at(-1)!.tls);
  } finally {
    await r.channel.close();
  }
  assert.deepEqual(
    r.results.map((x) => [x.policyType, x.result, x.mxHost]),
    [["tlsa", "success", "mx.good.dane.test"]],
  );
});

test("a TLSA RRset too big for UDP is read over TCP, and its one matching record found", async () => {
  const r = relay();
  try {
    const out = await send(r, "many.dane.test");
    assert.equal(out.kind, "delivered", out.reply.text);
  } finally {
    await r.channel.close();
  }
  assert.equal(r.results[0]?.policyType, "tlsa");
  assert.equal(r.results[0]?.policyStrings?.length, 25);
});

test("DANE-TA: the chain leads to the CA the TLSA record names, and the leaf names the MX host", async () => {
  const r = relay();
  try {
    const out = await send(r, "ta.dane.test");
    assert.equal(out.kind, "delivered", out.reply.text);
  } finally {
    await r.channel.close();
  }
});

test("DANE mismatch: deferred 4.7.5 (tlsa-invalid), nothing sent", async () => {
  const r = relay();
  const before = servers.get("bad")!.messages.length;
  try {
    const out = await send(r, "bad.dane.test");
    assert.equal(out.kind, "deferred");
    assert.equal(out.reply.enhanced, "4.7.5");
    assert.match(
      out.reply.text,
      /^TLS policy DANE of bad\.dane\.test: the certificate is not accepted: .*no TLSA record matches/,
    );
  } finally {
    await r.channel.close();
  }
  assert.equal(servers.get("bad")!.messages.length, before);
  assert.deepEqual(
    r.results.map((x) => [x.policyType, x.result]),
    [["tlsa", "tlsa-invalid"]],
  );
});

test("TLSA records without the AD bit (an unsigned zone) are not used: opportunistic TLS", async () => {
  const r = relay();
  try {
    const out = await send(r, "plain.test");
    assert.equal(out.kind, "delivered", out.reply.text);
  } finally {
    await r.channel.close();
  }
  assert.deepEqual(
    r.results.map((x) => [x.policyType, x.result]),
    [["no-policy-found", "success"]],
  );
});

test("the validating resolver not answering: the domain's mail is deferred, not sent without DANE", async () => {
  const silent = await freePort();
  const r = relay({ daneResolver: `127.0.0.1:${silent}`, policyTimeoutSeconds: 1 });
  try {
    const out = await send(r, "good.dane.test");
    assert.equal(out.kind, "deferred");
    assert.equal(out.reply.enhanced, "4.7.0", out.reply.text);
    assert.match(out.reply.text, /DNSSEC lookup of good\.dane\.test failed/);
  } finally {
    await r.channel.close();
  }
  assert.equal(r.results[0]?.result, "dnssec-invalid");
});

test("tls check explains the DANE plan: MX RRset secure, each host's TLSA records, the requirement", async () => {
  const settings = settingsSchema.parse({
    smtp: { outbound: { port, tlsPolicy: "dane", daneResolver: dns.address, policyTimeoutSeconds: 5 } },
  });
  const names = Object.keys(HOSTS) as Name[];
  const resolver = fakeResolver({
    mx: Object.fromEntries(names.map((n) => [domainOf(n), ok({ exchange: mxOf(n), priority: 10 })])),
    addresses: Object.fromEntries(names.map((n) => [mxOf(n), ok(HOSTS[n])])),
  });
  const deps = { settings, resolver, dialer: tcpDialer, clock: systemClock };
  const good = explanationLines(await explainTlsPolicy("good.dane.test", deps));
  assert.ok(good.includes("configured policy: dane (smtp.outbound.tlsPolicy)"), good.join("\n"));
  assert.ok(good.includes(`DANE resolver: ${dns.address}; MX RRset: secure (AD)`), good.join("\n"));
  assert.ok(
    good.includes(`  TLSA _${port}._tcp.mx.good.dane.test: 2 record(s), secure (AD), 1 usable`),
    good.join("\n"),
  );
  assert.ok(
    good.includes("  requires: STARTTLS required, certificate matching 1 TLSA record(s)"),
    good.join("\n"),
  );
  const plain = explanationLines(await explainTlsPolicy("plain.test", deps));
  assert.ok(plain.includes(`DANE resolver: ${dns.address}; MX RRset: insecure (no AD)`), plain.join("\n"));
  assert.ok(plain.includes("MTA-STS record: none"), plain.join("\n"));
  assert.ok(plain.includes("  requires: STARTTLS when offered, certificate not checked"), plain.join("\n"));
  const missing = explanationLines(await explainTlsPolicy("nowhere.test", deps));
  assert.match(missing.join("\n"), /MX: none \(550 5\.1\.2 /);
});
