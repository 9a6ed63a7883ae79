import { test } from "node:test";
import assert from "node:assert/strict";
import { mxMatches, parseStsPolicy, parseStsRecord } from "./mta-sts.js";

void test("the _mta-sts TXT record: one STSv1 record with an id", () => {
  assert.deepEqual(parseStsRecord([["v=STSv1; id=20260101T000000;"]]), {
    kind: "record",
    record: { id: "20260101T000000" },
  });
  assert.deepEqual(parseStsRecord([["v=STSv1; ", "id=abc"]]), { kind: "record", record: { id: "abc" } });
  assert.deepEqual(parseStsRecord([["v=spf1 -all"]]), { kind: "none" });
  assert.equal(parseStsRecord([["v=STSv1; id=a"], ["v=STSv1; id=b"]]).kind, "invalid");
  assert.equal(parseStsRecord([["v=STSv1; id=not-alnum!"]]).kind, "invalid");
  assert.equal(parseStsRecord([["v=STSv1;"]]).kind, "invalid");
});

void test("a policy file: version, mode, max_age and mx lines (CRLF or LF)", () => {
  const p = parseStsPolicy(
    "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: *.example.test\r\nmax_age: 86400\r\n",
  );
  assert.deepEqual(p, {
    kind: "policy",
    policy: { mode: "enforce", mx: ["mx1.example.test", "*.example.test"], maxAge: 86400 },
  });
  assert.equal(parseStsPolicy("version: STSv1\nmode: none\nmax_age: 1\n").kind, "policy");
  assert.equal(parseStsPolicy("version: STSv1\nmode: enforce\nmax_age: 1\n").kind, "invalid", "no mx");
  assert.equal(parseStsPolicy("version: STSv2\nmode: none\nmax_age: 1\n").kind, "invalid");
  assert.equal(parseStsPolicy("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n").kind, "invalid");
  assert.equal(parseStsPolicy("version: STSv1\nmode: testing\nmx: a\nmax_age: -1\n").kind, "invalid");
  assert.equal(parseStsPolicy("<html>").kind, "invalid");
  assert.equal(parseStsPolicy("x".repeat(64 * 1024 + 1)).kind, "invalid");
  const capped = parseStsPolicy("version: STSv1\nmode: testing\nmx: a\nmax_age: 99999999999\n");
  assert.equal(capped.kind, "invalid", "more than 10 digits");
  const big = parseStsPolicy("version: STSv1\nmode: testing\nmx: a\nmax_age: 9999999999\n");
  assert.ok(big.kind === "policy" && big.policy.maxAge === 31_557_600);
});

void test("MX patterns: exact names, and a wildcard for exactly one leftmost label (RFC 8461 §4.1)", () => {
  const pats = ["mx1.example.test", "*.mail.example.test"];
  assert.ok(mxMatches("mx1.example.test", pats));
  assert.ok(mxMatches("MX1.Example.Test.", pats));
  assert.ok(mxMatches("a.mail.example.test", pats));
  assert.ok(!mxMatches("mail.example.test", pats));
  assert.ok(!mxMatches("a.b.mail.example.test", pats));
  assert.ok(!mxMatches("mx2.example.test", pats));
  assert.ok(!mxMatches("evilmx1.example.test", pats));
});
