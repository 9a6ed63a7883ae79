// Key choice for signing: the From: domain (exactly one author) and its parents; keys and records.
import { test } from "node:test";
import assert from "node:assert/strict";
import { candidateDomains, fromDomain } from "./sign.js";
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
