import { test } from "node:test";
import assert from "node:assert/strict";
import { toAsciiAddress, toAsciiDomain } from "./idna.js";

test("U-labels become lower-case A-labels; A-labels and plain ASCII names stay", () => {
  assert.equal(toAsciiDomain("bücher.test"), "xn--bcher-kva.test");
  assert.equal(toAsciiDomain("BÜCHER.Test"), "xn--bcher-kva.test");
  assert.equal(toAsciiDomain("XN--BCHER-KVA.test"), "xn--bcher-kva.test");
  assert.equal(toAsciiDomain("日本語.jp"), "xn--wgv71a119e.jp");
  // IDNA 2008 (UTS #46 non-transitional): ß is its own letter, not "ss".
  assert.equal(toAsciiDomain("faß.de"), "xn--fa-hia.de");
  assert.equal(toAsciiDomain("Example.TEST"), "Example.TEST", "plain ASCII is the caller's to check");
  assert.equal(toAsciiDomain("[192.0.2.1]"), "[192.0.2.1]");
});

test("invalid IDNs are null", () => {
  for (const d of ["bü-.test", "-bü.test", "a\u200db.test", "xn--zz.test", "xn--abc"]) {
    assert.equal(toAsciiDomain(d), null, d);
  }
});

test("addresses: only the domain changes", () => {
  assert.equal(toAsciiAddress("Jöran@Bücher.test"), "Jöran@xn--bcher-kva.test");
  assert.equal(toAsciiAddress("a@b.test"), "a@b.test");
  assert.equal(toAsciiAddress("postmaster"), "postmaster");
  assert.equal(toAsciiAddress("a@bü-.test"), null);
});
