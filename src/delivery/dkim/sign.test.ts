// Key choice for signing: the From: domain (exactly one author) and its parents; keys and records.
import { test } from "node:test";
import assert from "node:assert/strict";
import { arcPlan, candidateDomains, fromDomain } from "./sign.js";
import { dnsName, dnsRecord, generateDkimKey, isSelector } from "./keys.js";

test("fromDomain: the single author's domain, lower-cased; none for zero or several", () => {
  assert.equal(fromDomain("Subject: x\r\nFrom: Alice <alice@Example.TEST>"), "example.test");
  assert.equal(fromDomain("From: a@x.test, b@y.test"), null);
  assert.equal(fromDomain("From: a@x.test\r\nFrom: b@x.test"), null);
  assert.equal(fromDomain("Subject: none"), null);
});

test("candidateDomains: nearest first, down to two labels", () => {
  assert.deepEqual(candidateDomains("a.lists.example.test"), [
    "a.lists.example.test",
    "lists.example.test",
    "example.test",
  ]);
  assert.deepEqual(candidateDomains("example.test"), ["example.test"]);
});

test("keys: selectors checked, records as published", () => {
  assert.equal(isSelector("my202612"), true);
  assert.equal(isSelector("bad_selector"), false);
  assert.throws(() => generateDkimKey("example.test", "-x", "rsa", 0));
  const k = generateDkimKey("Example.Test", "S1", "ed25519", 5);
  assert.equal(dnsName(k), "s1._domainkey.example.test");
  assert.match(dnsRecord(k), /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
  assert.match(k.privateKey, /^-----BEGIN PRIVATE KEY-----/);
});

test("arcPlan: only with our Authentication-Results, a chain we found valid or none, room left", () => {
  const job = (original: string | null) =>
    ({
      recipients: [{ index: 0, rcpt: { address: "b@remote.test", original, notify: null, orcpt: null } }],
    }) as unknown as Parameters<typeof arcPlan>[2];
  const ar = (r: string) => `Authentication-Results: mx.example.test;\r\n\tdkim=pass header.i=@a.test${r}`;
  const plan = arcPlan(`${ar("")}\r\nSubject: x`, "mx.example.test", job("fwd@lists.example.test"));
  assert.equal(plan?.cv, "none");
  assert.match(plan?.authResults ?? "", /^mx\.example\.test;\s*dkim=pass/);
  assert.deepEqual(plan?.domains, ["lists.example.test", "example.test", "mx.example.test"]);
  const chained = `${ar(";\r\n\tarc=pass")}\r\nARC-Seal: i=1; cv=none`;
  assert.equal(arcPlan(chained, "mx.example.test", job(null))?.cv, "pass");
  assert.equal(arcPlan(`${ar(";\r\n\tarc=fail")}\r\nARC-Seal: i=1`, "mx.example.test", job(null)), null);
  assert.equal(
    arcPlan(`${ar("")}\r\nARC-Seal: i=1`, "mx.example.test", job(null)),
    null,
    "none with a chain",
  );
  assert.equal(arcPlan("Authentication-Results: other.test; spf=pass", "mx.example.test", job(null)), null);
  const redirected = `${ar("")}\r\nX-Mailyard-Redirected-By: carl@people.test`;
  assert.deepEqual(arcPlan(redirected, "mx.example.test", job(null))?.domains, [
    "people.test",
    "mx.example.test",
    "example.test",
  ]);
});
