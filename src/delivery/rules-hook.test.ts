// The envelope of what account rules generate: a reply is labelled by what it holds (an ASCII
// reply is 7BIT without SMTPUTF8), a message passed on keeps the body type and SMTPUTF8 of the
// one it came from, and a non-ASCII address or header field asks for SMTPUTF8.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Envelope } from "../queue/envelope.js";
import type { Generated } from "../rules/account-run.js";
import { generatedDraft } from "./rules-hook.js";

const ORIGINAL: Envelope = {
  id: "q1",
  returnPath: "tanaka@remote.test",
  recipients: [],
  ret: null,
  envid: null,
  body: "8BITMIME",
  smtputf8: false,
  source: "smtp",
  authUser: null,
  client: null,
  arrival: 0,
  size: 0,
};

const gen = (kind: Generated["kind"], message: string, to = ["tanaka@remote.test"]): Generated => ({
  kind,
  returnPath: kind === "reply" || kind === "vacation" ? "" : "tanaka@remote.test",
  to,
  message: Buffer.from(message, "utf8"),
});

test("an ASCII auto-reply goes as 7BIT without SMTPUTF8; one with 8-bit text as 8BITMIME", () => {
  const d = generatedDraft(gen("vacation", "Subject: =?UTF-8?B?5pel?=\r\n\r\nhi\r\n"), 5, ORIGINAL);
  assert.equal(d.body, "7BIT");
  assert.equal(d.smtputf8, false);
  assert.equal(d.source, "rule");
  assert.equal(d.arrival, 5);
  const e = generatedDraft(gen("vacation", "Subject: x\r\n\r\n日本\r\n"), 5, ORIGINAL);
  assert.equal(e.body, "8BITMIME");
  assert.equal(e.smtputf8, false);
});

test("a redirect keeps the original's BODY and SMTPUTF8; UTF-8 in its header or addresses asks for it", () => {
  const plain = generatedDraft(gen("redirect", "Subject: x\r\n\r\nhi\r\n"), 5, {
    ...ORIGINAL,
    body: "BINARYMIME",
  });
  assert.equal(plain.body, "BINARYMIME");
  assert.equal(plain.smtputf8, false);
  assert.equal(
    generatedDraft(gen("redirect", "Subject: x\r\n\r\nhi\r\n"), 5, { ...ORIGINAL, smtputf8: true }).smtputf8,
    true,
  );
  assert.equal(generatedDraft(gen("mirror", "Subject: 日本\r\n\r\nhi\r\n"), 5, ORIGINAL).smtputf8, true);
  assert.equal(
    generatedDraft(gen("forward", "Subject: x\r\n\r\nhi\r\n", ["ユーザー@example.test"]), 5, ORIGINAL)
      .smtputf8,
    true,
  );
});
