// The relay's DKIM signer on its own, with a key store in memory: a message is read once to be
// signed and its signature verifies with mailauth; the same message's other destinations and
// later attempts reuse that signature without reading it again; a changed key signs afresh; a
// message without a key is only read up to its header; a failing store sends it unsigned.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { dkimVerify } from "mailauth";
import { createDkimSigner } from "../../src/delivery/dkim/sign.js";
import { generateDkimKey, dnsRecord, dnsName, type DkimKey } from "../../src/delivery/dkim/keys.js";
import { openSqliteDkimStore } from "../../src/delivery/dkim/sqlite-store.js";
import type { DkimKeyStore } from "../../src/delivery/dkim/store.js";
import type { DeliveryJob } from "../../src/queue/types.js";
import type { SigningOutcome } from "../../src/log/metrics.js";
import { mailauthResolver } from "../../src/inbound/mailauth-dns.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeResolver } from "../kit/resolver.js";

const text = (from: string) =>
  Buffer.from(
    `From: <${from}>\r\nTo: <bob@remote.test>\r\nSubject: hello\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\n` +
      `Message-ID: <1@x.test>\r\n\r\nHello,\r\n\r\nsigned  body.\r\n`,
  );

/** A job whose body is served in two chunks, counting how often it is opened. */
function jobOf(id: string, message: Buffer, route = "relay:remote.test") {
  const opened = { count: 0 };
  const job = {
    envelope: { id },
    recipients: [
      { index: 0, rcpt: { address: "bob@remote.test", original: null, notify: null, orcpt: null } },
    ],
    route: { key: route, kind: "remote" },
    body: () => {
      opened.count++;
      return Readable.from([message.subarray(0, 40), message.subarray(40)], { objectMode: false });
    },
  } as unknown as DeliveryJob;
  return { job, opened };
}

async function drain(r: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts).toString("latin1");
}

function setup(store: DkimKeyStore = openSqliteDkimStore(":memory:")) {
  const clock = new FakeClock(Date.UTC(2026, 11, 3, 9));
  const outcomes: SigningOutcome[] = [];
  const logs = memoryLogSink();
  const signer = createDkimSigner({
    store,
    hostname: "mx.example.test",
    clock,
    log: logs.for("SMTP"),
    metrics: { dkimSigning: (o: SigningOutcome) => void outcomes.push(o) } as never,
  });
  return { store, clock, outcomes, logs, signer };
}

const verify = async (m: string, key: DkimKey) =>
  (
    await dkimVerify(Buffer.from(m, "latin1"), {
      resolver: mailauthResolver(fakeResolver({ txt: { [dnsName(key)]: [dnsRecord(key)] } })) as never,
    })
  ).results;

const signatureOf = (m: string): string => /^DKIM-Signature:[^]*?\r\n(?![ \t])/.exec(m)?.[0] ?? "";

test("signed once: read once, verifies; other destinations and retries reuse it unread", async () => {
  const { store, outcomes, signer } = setup();
  const key = generateDkimKey("example.test", "s1", "rsa", 1);
  assert.equal(await store.add(key), true);
  const message = text("alice@example.test");
  const first = jobOf("q1", message);
  const send = await signer.body(first.job);
  const sent = await drain(send());
  assert.equal(first.opened.count, 1, "the signing pass's chunks are what is sent");
  assert.match(sent, /^DKIM-Signature: [^]*d=example\.test;[^]*s=s1;/);
  assert.ok(sent.endsWith(message.toString("latin1")));
  const [r] = await verify(sent, key);
  assert.equal(r?.status.result, "pass", JSON.stringify(r?.status));
  assert.equal(await drain(send()), sent, "a second send of the same attempt is the same bytes");

  // Another destination of the same message, at the same time and later: no signing pass.
  const [second, third] = [jobOf("q1", message, "relay:other.test"), jobOf("q1", message)];
  const [s2, s3] = await Promise.all([signer.body(second.job), signer.body(third.job)]);
  assert.equal(second.opened.count + third.opened.count, 0, "nothing read before sending");
  assert.equal(signatureOf(await drain(s2())), signatureOf(sent));
  assert.equal(signatureOf(await drain(s3())), signatureOf(sent));
  assert.deepEqual(outcomes, ["signed", "signed", "signed"]);
});

test("destinations of one message arriving together share one signing pass", async () => {
  const { store, signer } = setup();
  assert.equal(await store.add(generateDkimKey("example.test", "s1", "ed25519", 1)), true);
  const jobs = ["relay:a.test", "relay:b.test", "relay:c.test"].map((r) =>
    jobOf("q2", text("a@example.test"), r),
  );
  const sends = await Promise.all(jobs.map((j) => signer.body(j.job)));
  assert.equal(
    jobs.reduce((n, j) => n + j.opened.count, 0),
    1,
  );
  const sigs = await Promise.all(sends.map(async (s) => signatureOf(await drain(s()))));
  assert.equal(new Set(sigs).size, 1);
  assert.match(sigs[0]!, /a=ed25519-sha256/);
});

test("a new key for the domain (after the key cache's minute) signs the next attempt afresh", async () => {
  const { store, clock, signer } = setup();
  assert.equal(await store.add(generateDkimKey("example.test", "old", "ed25519", 1)), true);
  const message = text("alice@example.test");
  assert.match(await drain((await signer.body(jobOf("q3", message).job))()), /s=old;/);
  const fresh = generateDkimKey("example.test", "new", "ed25519", 2);
  assert.equal(await store.add(fresh), true);
  assert.equal(await store.remove("example.test", "old"), 1);
  clock.advance(61_000);
  const retry = jobOf("q3", message);
  const sent = await drain((await signer.body(retry.job))());
  assert.equal(retry.opened.count, 1, "signed again");
  assert.match(sent, /s=new;/);
  assert.equal((await verify(sent, fresh))[0]?.status.result, "pass");
});

test("no key: only the header is read and the message goes as stored; a failing store sends it unsigned", async () => {
  const { outcomes, signer } = setup();
  const message = text("x@nokey.test");
  let pieces = 0;
  const job = {
    ...jobOf("q4", message).job,
    body: () =>
      Readable.from(
        (function* () {
          for (let i = 0; i < message.length; i += 16) {
            pieces++;
            yield message.subarray(i, i + 16);
          }
        })(),
        { objectMode: false },
      ),
  };
  const send = await signer.body(job);
  assert.ok(pieces < Math.ceil(message.length / 16), `read ${pieces} pieces`);
  assert.equal(await drain(send()), message.toString("latin1"));
  assert.deepEqual(outcomes, ["no-key"]);

  const broken = {
    ...openSqliteDkimStore(":memory:"),
    keysOf: () => Promise.reject(new Error("state down")),
  };
  const b = setup(broken);
  const failing = jobOf("q5", text("alice@example.test"));
  assert.equal(
    await drain((await b.signer.body(failing.job))()),
    text("alice@example.test").toString("latin1"),
  );
  assert.deepEqual(b.outcomes, ["failed"]);
  assert.ok(b.logs.records.some((r) => r.text.includes("dkim signing failed")));
});
