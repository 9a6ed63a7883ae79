import { test } from "node:test";
import assert from "node:assert/strict";
import type { OutboundMessage, OutboundRecipient } from "./message.js";
import { NO_EXTENSIONS, parseExtensions, type Extensions } from "./extensions.js";
import {
  capabilityProblem,
  mailCommand,
  needsSmtputf8,
  rcptCommand,
  requireTlsProblem,
  sendsChunked,
} from "./mail-params.js";
import { xtextEncode } from "../../proto/params.js";

const env: OutboundMessage = {
  returnPath: "a@example.test",
  ret: "HDRS",
  envid: "id+1=x y",
  body: "8BITMIME",
  smtputf8: false,
  size: 1234,
};
const rcpt: OutboundRecipient = {
  address: "b@example.test",
  notify: ["SUCCESS", "FAILURE"],
  orcpt: "rfc822;b+x@example.test",
};
const ALL: Extensions = parseExtensions({
  code: 250,
  enhanced: null,
  text: "mx.test\nPIPELINING\nSIZE 2000\n8BITMIME\nSMTPUTF8\nDSN\nSTARTTLS\nCHUNKING\nENHANCEDSTATUSCODES",
});

test("EHLO keywords become extensions", () => {
  assert.deepEqual(ALL, {
    esmtp: true,
    pipelining: true,
    size: 2000,
    eightBitMime: true,
    smtputf8: true,
    dsn: true,
    starttls: true,
    chunking: true,
    binaryMime: false,
    enhancedStatusCodes: true,
    requireTls: false,
    auth: [],
  });
  assert.equal(parseExtensions({ code: 250, enhanced: null, text: "mx\nREQUIRETLS" }).requireTls, true);
  assert.equal(parseExtensions({ code: 250, enhanced: null, text: "mx\nsize" }).size, 0);
  assert.equal(parseExtensions({ code: 250, enhanced: null, text: "mx\nSIZE junk" }).size, 0);
  assert.equal(parseExtensions({ code: 250, enhanced: null, text: "mx" }).pipelining, false);
});

test("xtext encodes +, = and non-printables", () => {
  assert.equal(xtextEncode("id+1=x y"), "id+2B1+3Dx+20y");
  assert.equal(xtextEncode("é"), "+C3+A9");
});

test("MAIL and RCPT carry only parameters the server announced", () => {
  assert.equal(
    mailCommand(env, ALL),
    "MAIL FROM:<a@example.test> SIZE=1234 BODY=8BITMIME RET=HDRS ENVID=id+2B1+3Dx+20y\r\n",
  );
  assert.equal(mailCommand(env, NO_EXTENSIONS), "MAIL FROM:<a@example.test>\r\n");
  assert.equal(
    rcptCommand(rcpt, ALL),
    "RCPT TO:<b@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bx@example.test\r\n",
  );
  assert.equal(rcptCommand(rcpt, NO_EXTENSIONS), "RCPT TO:<b@example.test>\r\n");
  assert.equal(
    mailCommand({ ...env, returnPath: "", smtputf8: true }, ALL).startsWith(
      "MAIL FROM:<> SIZE=1234 BODY=8BITMIME SMTPUTF8",
    ),
    true,
  );
});

test("BODY=BINARYMIME only over BDAT to a server that offers it; else 8BITMIME", () => {
  const binary = { ...env, body: "BINARYMIME" as const };
  const withBinary: Extensions = { ...ALL, binaryMime: true };
  assert.match(mailCommand(binary, withBinary, true), / BODY=BINARYMIME /);
  assert.match(mailCommand(binary, withBinary, false), / BODY=8BITMIME /);
  assert.match(mailCommand(binary, ALL, true), / BODY=8BITMIME /);
});

test("SMTPUTF8 without server support and oversize messages are permanent problems", () => {
  assert.equal(capabilityProblem(env, ALL, "mx", false), null);
  assert.equal(capabilityProblem({ ...env, smtputf8: true }, NO_EXTENSIONS, "mx", false)?.enhanced, "5.6.7");
  assert.equal(capabilityProblem({ ...env, size: 2001 }, ALL, "mx", false)?.enhanced, "5.3.4");
  assert.equal(capabilityProblem({ ...env, size: 10 ** 9 }, NO_EXTENSIONS, "mx", false), null);
});

test("BODY=BINARYMIME never goes over DATA: without BDAT and BINARYMIME it is returned with 5.6.3", () => {
  const binary = { ...env, body: "BINARYMIME" as const };
  const withBinary: Extensions = { ...ALL, binaryMime: true };
  assert.equal(capabilityProblem(binary, withBinary, "mx", true), null);
  for (const [ext, chunked] of [
    [withBinary, false],
    [ALL, true],
    [NO_EXTENSIONS, false],
  ] as const) {
    const r = capabilityProblem(binary, ext, "mx", chunked);
    assert.equal(r?.code, 554);
    assert.equal(r?.enhanced, "5.6.3");
  }
  assert.equal(sendsChunked(withBinary, { chunking: true }), true);
  assert.equal(sendsChunked(withBinary, { chunking: false }), false);
  assert.equal(sendsChunked({ ...withBinary, pipelining: false }, { chunking: true }), false);
});

test("to a server without SMTPUTF8 an IDN goes as A-labels; with it, as it is", () => {
  const idn: OutboundMessage = { ...env, returnPath: "a@bücher.test", ret: null, envid: null };
  const to: OutboundRecipient = { address: "b@müller.test", notify: null, orcpt: null };
  assert.equal(mailCommand(idn, NO_EXTENSIONS), "MAIL FROM:<a@xn--bcher-kva.test>\r\n");
  assert.equal(rcptCommand(to, NO_EXTENSIONS), "RCPT TO:<b@xn--mller-kva.test>\r\n");
  assert.match(mailCommand({ ...idn, smtputf8: true }, ALL), /^MAIL FROM:<a@bücher\.test> .*SMTPUTF8/);
  assert.equal(rcptCommand(to, ALL), "RCPT TO:<b@müller.test>\r\n");
});

test("SMTPUTF8 is needed only for what A-labels cannot carry: UTF-8 local parts and headers", () => {
  const asked: OutboundMessage = { ...env, smtputf8: true, returnPath: "a@bücher.test" };
  const idn: OutboundRecipient = { address: "b@müller.test", notify: null, orcpt: null };
  assert.equal(needsSmtputf8(asked, [idn], true), false, "IDN domains only");
  assert.equal(needsSmtputf8(asked, [idn], false), true, "UTF-8 in the header section");
  assert.equal(needsSmtputf8(asked, [{ ...idn, address: "jöran@müller.test" }], true), true);
  assert.equal(needsSmtputf8({ ...asked, returnPath: "jöran@b.test" }, [idn], true), true);
  assert.equal(needsSmtputf8({ ...asked, smtputf8: false }, [idn], false), false, "not asked for");
});

test("REQUIRETLS: on the MAIL command only to a server that offers it; a hop that cannot keep it is refused", () => {
  const rt: OutboundMessage = { ...env, requireTls: true };
  const offers = { ...ALL, requireTls: true };
  assert.match(mailCommand(rt, offers), / REQUIRETLS[ \r]/);
  assert.doesNotMatch(mailCommand(env, offers), /REQUIRETLS/);
  const good = { active: true, verified: true };
  assert.equal(requireTlsProblem(rt, offers, good, "mx"), null);
  assert.equal(requireTlsProblem(env, NO_EXTENSIONS, { active: false, verified: false }, "mx"), null);
  assert.equal(requireTlsProblem(rt, offers, { active: false, verified: false }, "mx")?.enhanced, "5.7.10");
  assert.equal(requireTlsProblem(rt, offers, { active: true, verified: false }, "mx")?.enhanced, "5.7.10");
  assert.equal(requireTlsProblem(rt, ALL, good, "mx")?.enhanced, "5.7.30");
});
