// `mailyard tls check DOMAIN` as an operator runs it: a name that is no domain exits 2 with one
// message, and so does the dane policy without a validating resolver, saying which setting is
// missing. What it prints for real domains is tested with an injected resolver and a real
// validating Unbound in test/relay/dane.test.ts (the installed command would ask real DNS).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mailyard } from "./run-cli.js";

void test("tls check: a bad domain is a usage error (exit 2)", async () => {
  for (const bad of ["no..dots.test", "x-.test", "[127.0.0.1]", "nodot", "a b.test"]) {
    const r = await mailyard(["tls", "check", bad]);
    assert.equal(r.code, 2, `${bad}: ${r.err}`);
    assert.match(r.err, /^mailyard: tls check: ".*" is not a domain name\n/);
  }
  const none = await mailyard(["tls", "check"]);
  assert.equal(none.code, 2);
  assert.match(none.err, /usage: mailyard tls check DOMAIN/);
});

void test("tls check: the dane policy without smtp.outbound.daneResolver says what is missing (exit 2, a configuration error)", async () => {
  const r = await mailyard(["tls", "check", "example.test", "--set", "smtp.outbound.tlsPolicy=dane"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /needs smtp\.outbound\.daneResolver/);
});
