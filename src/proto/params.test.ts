import { test } from "node:test";
import assert from "node:assert/strict";
import { parseMailParams, parseRcptParams, xtextDecode, xtextEncode } from "./params.js";
import { REPLIES } from "./reply.js";

test("MAIL parameters", () => {
  assert.deepEqual(parseMailParams(""), {
    ok: true,
    params: { size: null, body: "7BIT", smtputf8: false, ret: null, envid: null, requireTls: false },
  });
  assert.deepEqual(
    parseMailParams("SIZE=1000 body=8bitmime SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=<> requiretls"),
    {
      ok: true,
      params: { size: 1000, body: "8BITMIME", smtputf8: true, ret: "HDRS", envid: "QQ+1", requireTls: true },
    },
  );
  const big = parseMailParams("SIZE=99999999999999999999");
  assert.ok(big.ok && big.params.size !== null && big.params.size > 1e15);
  assert.deepEqual(parseMailParams("BODY=BINARYMIME"), {
    ok: true,
    params: { size: null, body: "BINARYMIME", smtputf8: false, ret: null, envid: null, requireTls: false },
  });
});

test("bad, unknown and duplicate parameters", () => {
  assert.deepEqual(parseMailParams("FOO=1"), { ok: false, reply: REPLIES.paramUnknown });
  assert.deepEqual(parseMailParams("SIZE=1 SIZE=2"), { ok: false, reply: REPLIES.paramSyntax });
  for (const bad of [
    "SIZE=x",
    "SIZE",
    "BODY=9BIT",
    "SMTPUTF8=yes",
    "REQUIRETLS=yes",
    "RET=ALL",
    "ENVID=a+zz",
    `ENVID=${"a".repeat(101)}`,
    "=x",
  ]) {
    assert.deepEqual(parseMailParams(bad), { ok: false, reply: REPLIES.paramSyntax }, bad);
  }
  assert.deepEqual(parseRcptParams("SIZE=1"), { ok: false, reply: REPLIES.paramUnknown });
});

test("RCPT parameters: NOTIFY and ORCPT", () => {
  assert.deepEqual(parseRcptParams("NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c.test"), {
    ok: true,
    params: { notify: ["SUCCESS", "FAILURE"], orcpt: "rfc822;a+b@c.test" },
  });
  assert.deepEqual(parseRcptParams("notify=never"), { ok: true, params: { notify: "NEVER", orcpt: null } });
  for (const bad of [
    "NOTIFY=NEVER,SUCCESS",
    "NOTIFY=",
    "NOTIFY=SUCCESS,SUCCESS",
    "ORCPT=rfc822",
    "ORCPT=;a@b.test",
    "NOTIFY=SOMETIMES",
  ]) {
    assert.deepEqual(parseRcptParams(bad), { ok: false, reply: REPLIES.paramSyntax }, bad);
  }
});

test("xtext round trip (RFC 3461 §4)", () => {
  for (const s of ["plain", "a+b=c", "spa ce", "ünï", "\x01\x7f"])
    assert.equal(xtextDecode(xtextEncode(s)), s);
  assert.equal(xtextEncode("a+b=c d"), "a+2Bb+3Dc+20d");
  assert.equal(xtextDecode("a+2b"), null, "hex must be upper case");
  assert.equal(xtextDecode("a=b"), null);
});
