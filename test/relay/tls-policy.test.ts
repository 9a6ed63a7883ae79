// The outbound TLS policy against real TLS on loopback: receivers with a valid, an expired, a
// wrong-name and a self-signed certificate (a test CA made here, trusted through
// smtp.outbound.caFile), and one without STARTTLS. opportunistic delivers to all of them;
// verify, and an MTA-STS policy in enforce mode, defer the bad ones with 4.7.x and skip them for
// a good MX when there is one; MTA-STS testing delivers and reports. The MTA-STS policy is
// served by a real HTTPS server on loopback: the injected resolver points mta-sts.DOMAIN there,
// the injected dialer takes port 443 to its port. Every result reaches the report sink, and a
// day of them becomes TLS-RPT reports (RFC 8460) for the domains that publish _smtp._tls.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import net from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSettings } from "../../src/config/load.js";
import { settingsSchema } from "../../src/config/settings.js";
import { createRelayChannel } from "../../src/delivery/relay.js";
import type { TlsResult } from "../../src/delivery/relay/tls-report.js";
import { createTlsReportBook, startTlsRptSender } from "../../src/delivery/relay/tls-rpt.js";
import type { TlsRptReport } from "../../src/proto/tls-rpt.js";
import { gunzipSync } from "node:zlib";
import { FakeClock } from "../kit/clock.js";
import type { Outcome } from "../../src/proto/outcome.js";
import { systemClock } from "../../src/world/clock.js";
import { tcpDialer, type Dialer } from "../../src/world/dialer.js";
import { startFakeSmtpServer, type FakeSmtpServer } from "../kit/fake-smtp-server.js";
import { silentLog } from "../kit/log.js";
import { freePort } from "../kit/ports.js";
import { fakeResolver } from "../kit/resolver.js";
import { makeTestCa, selfSigned } from "../kit/test-ca.js";
import { job } from "./fixtures.js";

const ok = <T>(...records: T[]) => ({ kind: "ok" as const, records });
const KINDS = ["valid", "expired", "wrongname", "selfsigned", "plain"] as const;
type Kind = (typeof KINDS)[number];
const ip = (k: Kind): string => `127.0.0.${2 + KINDS.indexOf(k)}`;

let dir = "";
let caFile = "";
let port = 0;
const servers = new Map<Kind, FakeSmtpServer>();
let web: https.Server;
let webPort = 0;
/** The MTA-STS policy text served per domain (mta-sts.DOMAIN), and how often it was fetched. */
const policies = new Map<string, string>();
const fetches = new Map<string, number>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "mailyard-tlspolicy-"));
  const ca = await makeTestCa();
  caFile = join(dir, "ca.pem");
  await writeFile(caFile, ca.cert);
  port = await freePort();
  const day = 86_400_000;
  const material: Record<Exclude<Kind, "plain">, { key: string; cert: string }> = {
    valid: await ca.issue(["mx.valid.test", "mx2.sts.test", "mx.sts.test"]),
    expired: await ca.issue(["mx.expired.test"], [], {
      notBefore: new Date(Date.now() - 30 * day),
      notAfter: new Date(Date.now() - day),
    }),
    wrongname: await ca.issue(["elsewhere.test"]),
    selfsigned: await selfSigned(["mx.selfsigned.test"]),
  };
  for (const k of KINDS) {
    const tls = k === "plain" ? undefined : material[k];
    servers.set(
      k,
      await startFakeSmtpServer({
        host: ip(k),
        port,
        extensions: ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"],
        ...(tls !== undefined ? { tls } : {}),
      }),
    );
  }
  const site = await ca.issue(["mta-sts.sts.test", "mta-sts.testing.test", "mta-sts.big.test"]);
  web = https.createServer({ key: site.key, cert: site.cert }, (req, res) => {
    const host = (req.headers.host ?? "").replace(/^mta-sts\./, "");
    fetches.set(host, (fetches.get(host) ?? 0) + 1);
    const text = policies.get(host);
    if (req.url !== "/.well-known/mta-sts.txt" || text === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "text/plain" }).end(text);
  });
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  webPort = (web.address() as net.AddressInfo).port;
});

after(async () => {
  await Promise.all([...servers.values()].map((s) => s.close()));
  await new Promise<void>((resolve) => web.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

/** Port 443 (the MTA-STS fetch) goes to the test's HTTPS server; everything else as asked. */
const dialer: Dialer = {
  connect: (o) => tcpDialer.connect(o.port === 443 ? { ...o, host: "127.0.0.1", port: webPort } : o),
};

const mx = (...hosts: string[]) => ok(...hosts.map((exchange, i) => ({ exchange, priority: 10 * (i + 1) })));

function resolver(txt: Record<string, readonly string[]> = {}) {
  return fakeResolver({
    mx: {
      ...Object.fromEntries(KINDS.map((k) => [`${k}.test`, mx(`mx.${k}.test`)])),
      // sts.test: a bad MX first (wrong name), then an MX the policy lists with a good certificate.
      "sts.test": mx("mx.wrongname.test", "mx2.sts.test"),
      "testing.test": mx("mx.wrongname.test"),
      "big.test": mx("mx.valid.test"),
    },
    addresses: {
      ...Object.fromEntries(KINDS.map((k) => [`mx.${k}.test`, ok(ip(k))])),
      "mx2.sts.test": ok(ip("valid")),
      "mta-sts.sts.test": ok("127.0.0.1"),
      "mta-sts.testing.test": ok("127.0.0.1"),
      "mta-sts.big.test": ok("127.0.0.1"),
    },
    txt,
  });
}

function relay(outbound: Record<string, unknown>, txt: Record<string, readonly string[]> = {}) {
  const settings = settingsSchema.parse({
    hostname: "relay.test",
    smtp: { outbound: { port, caFile, connectTimeoutSeconds: 5, commandTimeoutSeconds: 5, ...outbound } },
  });
  const results: TlsResult[] = [];
  const channel = createRelayChannel({
    settings,
    resolver: resolver(txt),
    dialer,
    clock: systemClock,
    log: silentLog("SMTP"),
    hostname: "relay.test",
    tlsReports: { record: (r) => results.push(r) },
  });
  return { channel, results };
}

async function send(r: ReturnType<typeof relay>, domain: string): Promise<Outcome> {
  const out = await r.channel.deliver(job({ rcpts: [`bob@${domain}`] }));
  assert.equal(out.length, 1);
  return out[0]!;
}

test("opportunistic (the default) delivers to every receiver, whatever its certificate", async () => {
  const r = relay({});
  try {
    for (const k of KINDS) {
      const out = await send(r, `${k}.test`);
      assert.equal(out.kind, "delivered", `${k}: ${out.reply.text}`);
    }
  } finally {
    await r.channel.close();
  }
  assert.ok(r.results.every((x) => x.policyType === "no-policy-found"));
  assert.equal(r.results.find((x) => x.mxHost === "mx.plain.test")?.result, "starttls-not-supported");
});

test("verify defers the expired, wrong-name and self-signed certificates and plaintext with 4.7.x", async () => {
  const r = relay({ tlsPolicy: "verify" });
  const expect: Record<Kind, [string, string] | null> = {
    valid: null,
    expired: ["4.7.5", "certificate-expired"],
    wrongname: ["4.7.5", "certificate-host-mismatch"],
    selfsigned: ["4.7.5", "certificate-not-trusted"],
    plain: ["4.7.10", "starttls-not-supported"],
  };
  try {
    for (const k of KINDS) {
      const before = servers.get(k)!.messages.length;
      const out = await send(r, `${k}.test`);
      const want = expect[k];
      if (want === null) {
        assert.equal(out.kind, "delivered", out.reply.text);
        continue;
      }
      assert.equal(out.kind, "deferred", `${k}: ${out.kind}`);
      assert.equal(out.reply.code, 451);
      assert.equal(out.reply.enhanced, want[0], `${k}: ${out.reply.text}`);
      assert.match(out.reply.text, new RegExp(`^TLS policy verify of ${k}\\.test`));
      assert.equal(servers.get(k)!.messages.length, before, "nothing sent");
      const rec = r.results.find((x) => x.policyDomain === `${k}.test`);
      assert.deepEqual([rec?.policyType, rec?.result, rec?.mxHost], ["static", want[1], `mx.${k}.test`]);
    }
  } finally {
    await r.channel.close();
  }
});

test("a per-domain entry overrides the default, and the settings load it from env and --set alike", async () => {
  const r = relay({ tlsPolicies: { "expired.test": "verify" } });
  try {
    assert.equal((await send(r, "expired.test")).kind, "deferred");
    assert.equal((await send(r, "wrongname.test")).kind, "delivered");
  } finally {
    await r.channel.close();
  }
  const file = join(dir, "policies.toml");
  await writeFile(
    file,
    '[smtp.outbound]\ntlsPolicy = "mta-sts"\n[smtp.outbound.tlsPolicies]\n"bank.test" = "verify"\n',
  );
  const fromFile = loadSettings({ file, env: {}, sets: [] }).smtp.outbound;
  assert.deepEqual([fromFile.tlsPolicy, fromFile.tlsPolicies], ["mta-sts", { "bank.test": "verify" }]);
  const env = { MAILYARD_SMTP_OUTBOUND_TLSPOLICIES: "bank.test=verify,partner.test=dane" };
  assert.deepEqual(loadSettings({ env, sets: [], cwd: dir }).smtp.outbound.tlsPolicies, {
    "bank.test": "verify",
    "partner.test": "dane",
  });
  const set = ["smtp.outbound.tlsPolicies=bank.test=mta-sts", "smtp.outbound.tlsPolicy=verify"];
  const fromSet = loadSettings({ env: {}, sets: set, cwd: dir }).smtp.outbound;
  assert.deepEqual([fromSet.tlsPolicy, fromSet.tlsPolicies], ["verify", { "bank.test": "mta-sts" }]);
  assert.throws(
    () => loadSettings({ env: {}, sets: ["smtp.outbound.tlsPolicies=bank.test=strict"], cwd: dir }),
    /expected opportunistic, verify, mta-sts or dane/,
  );
});

const STS = "version: STSv1\r\nmode: enforce\r\nmx: mx2.sts.test\r\nmx: *.valid.test\r\nmax_age: 86400\r\n";

test("MTA-STS enforce: an MX the policy does not list is skipped; the listed one is verified and used", async () => {
  policies.set("sts.test", STS);
  const r = relay({ tlsPolicy: "mta-sts" }, { "_mta-sts.sts.test": ["v=STSv1; id=one"] });
  try {
    const before = servers.get("wrongname")!.connections();
    const out = await send(r, "sts.test");
    assert.equal(out.kind, "delivered", out.reply.text);
    assert.match(out.relay, /^mx2\.sts\.test\[/);
    assert.equal(servers.get("wrongname")!.connections(), before, "the unlisted MX is never dialled");
    const skipped = r.results.find((x) => x.mxHost === "mx.wrongname.test");
    assert.deepEqual(
      [skipped?.policyType, skipped?.result, skipped?.mode],
      ["sts", "validation-failure", "enforce"],
    );
    const used = r.results.find((x) => x.mxHost === "mx2.sts.test");
    assert.deepEqual([used?.result, used?.receivingIp], ["success", ip("valid")]);
    // A second message: the policy comes from the cache (same id), not fetched again.
    const fetched = fetches.get("sts.test");
    assert.equal((await send(r, "sts.test")).kind, "delivered");
    assert.equal(fetches.get("sts.test"), fetched);
  } finally {
    await r.channel.close();
  }
});

test("MTA-STS enforce: a listed MX with a bad certificate defers 4.7.5", async () => {
  policies.set(
    "sts.test",
    STS.replace("mx: mx2.sts.test", "mx: mx.wrongname.test").replace("mx: *.valid.test\r\n", ""),
  );
  const r = relay({ tlsPolicy: "mta-sts" }, { "_mta-sts.sts.test": ["v=STSv1; id=two"] });
  try {
    const out = await send(r, "sts.test");
    // mx.wrongname.test is listed but its certificate names another host; mx2 is not listed.
    assert.equal(out.kind, "deferred");
    assert.equal(out.reply.enhanced, "4.7.0", out.reply.text);
    const results = r.results.map((x) => `${x.mxHost} ${x.result}`);
    assert.ok(results.includes("mx.wrongname.test certificate-host-mismatch"), results.join("; "));
    assert.ok(results.includes("mx2.sts.test validation-failure"), results.join("; "));
  } finally {
    await r.channel.close();
  }
  policies.set("sts.test", STS);
});

test("MTA-STS testing: delivered anyway, and what enforce would have refused is reported", async () => {
  policies.set("testing.test", "version: STSv1\nmode: testing\nmx: mx.wrongname.test\nmax_age: 600\n");
  const r = relay({ tlsPolicy: "mta-sts" }, { "_mta-sts.testing.test": ["v=STSv1; id=t1"] });
  try {
    const out = await send(r, "testing.test");
    assert.equal(out.kind, "delivered", out.reply.text);
  } finally {
    await r.channel.close();
  }
  const rec = r.results.find((x) => x.policyDomain === "testing.test");
  assert.deepEqual(
    [rec?.policyType, rec?.mode, rec?.result],
    ["sts", "testing", "certificate-host-mismatch"],
  );
});

test("MTA-STS: a policy over 64 KB or a failed fetch is reported, and the domain gets opportunistic TLS", async () => {
  policies.set(
    "big.test",
    `version: STSv1\nmode: enforce\nmx: nothing.test\nmax_age: 600\n${"#".repeat(70_000)}\n`,
  );
  const r = relay(
    { tlsPolicy: "mta-sts" },
    { "_mta-sts.big.test": ["v=STSv1; id=big"], "_mta-sts.valid.test": ["v=STSv1; id=x"] },
  );
  try {
    assert.equal((await send(r, "big.test")).kind, "delivered");
    // valid.test: the TXT record is there but the HTTPS name has no address: a fetch error.
    assert.equal((await send(r, "valid.test")).kind, "delivered");
  } finally {
    await r.channel.close();
  }
  const results = r.results.filter((x) => x.mxHost === undefined).map((x) => `${x.policyDomain} ${x.result}`);
  assert.deepEqual(results, ["big.test sts-policy-invalid", "valid.test sts-policy-fetch-error"]);
});

test("TLS-Required: No (RFC 8689 §5) skips the domain's policy, unless the envelope asks for REQUIRETLS", async () => {
  const r = relay({ tlsPolicy: "verify" });
  const body = "TLS-Required: No\r\nSubject: password reset\r\n\r\nhello\r\n";
  try {
    const relaxed = await r.channel.deliver(job({ rcpts: ["bob@expired.test"], body }));
    assert.equal(relaxed[0]!.kind, "delivered", relaxed[0]!.reply.text);
    const strict = await r.channel.deliver(
      job({ rcpts: ["bob@expired.test"], body, envelope: { requireTls: true } }),
    );
    assert.equal(strict[0]!.kind, "deferred");
    assert.equal(strict[0]!.reply.enhanced, "4.7.5");
    // A message without the field does not ride on the session opened without the policy.
    assert.equal((await send(r, "expired.test")).kind, "deferred");
  } finally {
    await r.channel.close();
  }
});

test("TLS-RPT: a day of mixed results becomes one gzipped JSON report per domain that asks for one", async () => {
  const book = createTlsReportBook({ hostname: "relay.test" });
  const settings = settingsSchema.parse({
    hostname: "relay.test",
    smtp: { outbound: { port, caFile, tlsPolicy: "mta-sts", tlsPolicies: { "expired.test": "verify" } } },
  });
  policies.set("sts.test", STS);
  const txt = {
    "_mta-sts.sts.test": ["v=STSv1; id=rpt"],
    "_smtp._tls.sts.test": ["v=TLSRPTv1; rua=mailto:tlsrpt@sts.test"],
    "_smtp._tls.expired.test": ["v=TLSRPTv1; rua=mailto:reports@expired.test,https://x.test/r"],
  };
  const channel = createRelayChannel({
    settings,
    resolver: resolver(txt),
    dialer,
    clock: systemClock,
    log: silentLog("SMTP"),
    hostname: "relay.test",
    tlsReports: book,
  });
  try {
    for (const d of ["sts.test", "sts.test", "expired.test", "valid.test"])
      await channel.deliver(job({ rcpts: [`bob@${d}`] }));
  } finally {
    await channel.close();
  }
  const mails: { to: string[]; from: string; message: Buffer }[] = [];
  const senderAt = (now: number) =>
    startTlsRptSender({
      book,
      resolver: resolver(txt),
      clock: new FakeClock(now),
      log: silentLog("SMTP"),
      hostname: "relay.test",
      submitter: () => ({
        submit: (draft, message) => {
          mails.push({ to: draft.recipients.map((r) => r.address), from: draft.returnPath, message });
          return Promise.resolve({ ok: true, id: `Q${mails.length}`, node: "n1", remote: false });
        },
      }),
    });
  const today = senderAt(Date.now());
  const tomorrow = senderAt(Date.now() + 86_400_000);
  try {
    assert.equal(await today.sendDue(), 0, "today is not over");
    assert.equal(await tomorrow.sendDue(), 2);
    assert.equal(await tomorrow.sendDue(), 0, "sent once");
  } finally {
    today.stop();
    tomorrow.stop();
  }
  const byDomain = new Map(
    mails.map((m) => [/^TLS-Report-Domain: (.+)\r$/m.exec(m.message.toString())![1]!, m]),
  );
  assert.deepEqual(
    [...byDomain.keys()].sort(),
    ["expired.test", "sts.test"],
    "valid.test publishes no _smtp._tls",
  );
  const report = (domain: string) => {
    const m = byDomain.get(domain)!;
    const text = m.message.toString();
    assert.match(text, /^Content-Type: multipart\/report; report-type="tlsrpt"/m);
    assert.match(text, /^TLS-Required: No\r$/m);
    assert.equal(m.from, "", "from the null sender");
    const b64 =
      /Content-Transfer-Encoding: base64\r\nContent-Disposition: [^\r]+\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n\r\n--/.exec(
        text,
      )![1]!;
    return JSON.parse(gunzipSync(Buffer.from(b64.replace(/\r\n/g, ""), "base64")).toString()) as TlsRptReport;
  };
  const sts = report("sts.test");
  assert.equal(byDomain.get("sts.test")!.to[0], "tlsrpt@sts.test");
  assert.equal(sts.policies.length, 1);
  const p = sts.policies[0]!;
  assert.equal(p.policy["policy-type"], "sts");
  assert.deepEqual(p.policy["mx-host"], ["mx2.sts.test", "*.valid.test"]);
  assert.ok(p.policy["policy-string"]!.includes("mode: enforce"));
  // Sessions are counted, not messages: the second message rode the pooled session.
  assert.deepEqual(p.summary, { "total-successful-session-count": 1, "total-failure-session-count": 1 });
  assert.deepEqual(
    p["failure-details"]!.map((f) => [
      f["result-type"],
      f["receiving-mx-hostname"],
      f["failed-session-count"],
    ]),
    [["validation-failure", "mx.wrongname.test", 1]],
  );
  const expired = report("expired.test");
  assert.equal(expired.policies[0]!.policy["policy-type"], "no-policy-found");
  assert.deepEqual(expired.policies[0]!.summary, {
    "total-successful-session-count": 0,
    "total-failure-session-count": 1,
  });
  assert.equal(expired.policies[0]!["failure-details"]![0]!["result-type"], "certificate-expired");
  assert.equal(expired.policies[0]!["failure-details"]![0]!["receiving-ip"], ip("expired"));
});
