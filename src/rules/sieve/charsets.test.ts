// Sieve's header and body tests, and the seed rules' Subject condition, on Japanese mail as it
// is sent: a Shift_JIS message (B-encoded Subject, 8bit body) and an ISO-2022-JP one
// (Q-encoded Subject, quoted-printable body), both matched by `header :contains` and
// `body :text` (RFC 5173). The bytes are written out in hex, made by another encoder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bodyParts } from "../body.js";
import { messageView, type MessageView } from "../message.js";
import { evaluateRules } from "../seed/evaluate.js";
import { parseRules } from "../seed/text.js";
import { runSieve } from "./interpret.js";
import { compileSieve } from "./validate.js";
import { NOW } from "../../../test/kit/message-view.js";

const hex = (h: string): Buffer => Buffer.from(h, "hex");
const ascii = (s: string): Buffer => Buffer.from(s, "latin1");

// 日本語の件名 in Shift_JIS and ISO-2022-JP; 会議は明日です likewise
const SUBJECT_SJIS = hex("93fa967b8cea82cc8c8f96bc");
const SUBJECT_JIS = hex("1b2442467c4b5c386c244e376f4c3e1b2842");
const BODY_SJIS = hex("89ef8b6382cd96be93fa82c582b7");
const BODY_JIS_QP = "=1B$B2q5D$OL@F|$G$9=1B(B";

/** RFC 2047 Q encoding of bytes, every byte other than a letter or digit as =XX. */
const q = (b: Buffer): string =>
  [...b]
    .map((x) =>
      /[A-Za-z0-9]/.test(String.fromCharCode(x))
        ? String.fromCharCode(x)
        : `=${x.toString(16).toUpperCase().padStart(2, "0")}`,
    )
    .join("");

function viewOf(raw: Buffer): MessageView {
  return messageView(raw, {
    envelopeFrom: "tanaka@remote.test",
    recipients: ["alice@example.test"],
    recipient: "alice@example.test",
    source: "smtp",
    submitAddress: "192.0.2.7",
    authenticated: false,
    now: NOW,
    zoneOffset: 0,
  });
}

const SJIS_MESSAGE = Buffer.concat([
  ascii("From: tanaka@remote.test\r\nTo: alice@example.test\r\n"),
  ascii(`Subject: =?Shift_JIS?B?${SUBJECT_SJIS.toString("base64")}?=\r\n`),
  ascii(
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
  ),
  BODY_SJIS,
  ascii("\r\n"),
]);

const JIS_QP_MESSAGE = ascii(
  "From: tanaka@remote.test\r\nTo: alice@example.test\r\n" +
    `Subject: =?ISO-2022-JP?Q?${q(SUBJECT_JIS)}?=\r\n` +
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="iso-2022-jp"\r\n' +
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
    BODY_JIS_QP +
    "\r\n",
);

const SCRIPT = [
  'require ["body", "fileinto"];',
  'if header :contains "subject" "件名" { fileinto "Subject"; }',
  'if body :text :contains "明日" { fileinto "Body"; }',
].join("\n");

for (const [name, raw] of [
  ["Shift_JIS", SJIS_MESSAGE],
  ["quoted-printable ISO-2022-JP", JIS_QP_MESSAGE],
] as const) {
  test(`Sieve header :contains and body :text match a ${name} message`, async () => {
    const c = compileSieve(SCRIPT);
    assert.ok(c.ok);
    const view = viewOf(raw);
    const r = await runSieve(c.script, view, { body: await bodyParts(view.raw) });
    assert.equal(r.error, null);
    assert.deepEqual(
      r.actions.map((a) => (a.kind === "fileinto" ? a.folder : a.kind)),
      ["Subject", "Body"],
    );
  });

  test(`the seed rules' Subject condition reads the ${name} subject`, () => {
    const ev = evaluateRules(parseRules('(1,ja,((Subject,is,"*件名*")),(("Store in",Ja)))'), viewOf(raw));
    assert.deepEqual(ev.errors, []);
    assert.deepEqual(
      ev.actions.filter((a) => a.kind === "store"),
      [{ kind: "store", folder: "Ja", rule: "ja" }],
    );
  });
}

test("vacation's default subject is the decoded original after 'Auto: '", async () => {
  const c = compileSieve('require "vacation"; vacation "away";');
  assert.ok(c.ok);
  const a = (await runSieve(c.script, viewOf(JIS_QP_MESSAGE))).actions.find((x) => x.kind === "vacation");
  assert.equal(a?.kind === "vacation" ? a.subject : null, "Auto: 日本語の件名");
});
