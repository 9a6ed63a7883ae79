// The body as Sieve's body test sees it: MIME structure (nested multiparts, an embedded message,
// LF line ends), transfer encodings and charsets decoded, the bounds, and the same parts
// whatever the chunks the splitter is fed. The Japanese bytes are written out in hex (made by
// another encoder), so the decoder is not checked against itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BODY_LIMITS, bodyParts } from "./body.js";

const hex = (h: string): Buffer => Buffer.from(h, "hex");
const msg = (...pieces: (string | Buffer)[]): Buffer =>
  Buffer.concat(pieces.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : p)));

// 会議は明日です / 東京支店 / 日本語の件名
const MEETING_SJIS = hex("89ef8b6382cd96be93fa82c582b7");
const TOKYO_EUC_B64 = Buffer.from(hex("c5ecb5febbd9c5b9")).toString("base64");
const MEETING_JIS_QP = "=1B$B2q5D$OL@F|$G$9=1B(B";
const SUBJECT_SJIS_B64 = "k/qWe4zqgsyMj5a8";

test("a Shift_JIS part in 8bit and an ISO-2022-JP part in quoted-printable come out as Unicode", async () => {
  const sjis = msg(
    "Subject: x\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=Shift_JIS\r\n",
    "Content-Transfer-Encoding: 8bit\r\n\r\n",
    MEETING_SJIS,
    "\r\n",
  );
  assert.deepEqual(await bodyParts(sjis), [{ type: "text/plain", text: "会議は明日です\r\n" }]);
  const jis = msg(
    'Subject: x\r\nContent-Type: text/plain; charset="ISO-2022-JP"\r\n',
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
    MEETING_JIS_QP,
    "\r\n",
  );
  assert.deepEqual(await bodyParts(jis), [{ type: "text/plain", text: "会議は明日です\r\n" }]);
});

const NESTED = msg(
  "From: a@example.test\r\n",
  'Content-Type: multipart/mixed; boundary="outer+(1)"\r\n\r\n',
  "preamble\r\n",
  "--outer+(1)\r\n",
  "Content-Type: multipart/alternative; boundary=inner\r\n\r\n",
  "--inner\r\n",
  "Content-Type: text/plain; charset=EUC-JP\r\nContent-Transfer-Encoding: base64\r\n\r\n",
  TOKYO_EUC_B64,
  "\r\n--inner\r\n",
  "Content-Type: text/html; charset=koi8-r\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
  "<p>=F0=D2=C9=D7=C5=D4</p>\r\n",
  "--inner--\r\n",
  "--outer+(1)\r\n",
  "Content-Type: message/rfc822\r\n\r\n",
  `Subject: =?Shift_JIS?B?${SUBJECT_SJIS_B64}?=\r\n`,
  "Content-Type: text/plain; charset=shift_jis\r\nContent-Transfer-Encoding: base64\r\n\r\n",
  MEETING_SJIS.toString("base64"),
  "\r\n--outer+(1)\r\n",
  "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n",
  Buffer.from("BINARY DATA").toString("base64"),
  "\r\n--outer+(1)--\r\n",
  "epilogue\r\n",
);

const NESTED_PARTS = [
  { type: "text/plain", text: "東京支店" },
  { type: "text/html", text: "<p>Привет</p>" },
  { type: "text/plain", text: "会議は明日です" },
  { type: "application/octet-stream", text: "BINARY DATA" },
];

test("nested multiparts, an embedded message and base64/quoted-printable parts in four charsets", async () => {
  assert.deepEqual(await bodyParts(NESTED), NESTED_PARTS);
});

test("LF line ends read as CRLF ones", async () => {
  const lf = Buffer.from(NESTED.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
  assert.deepEqual(await bodyParts(lf), NESTED_PARTS);
});

test("the same parts whatever the chunks the splitter is fed (every split point of a message)", async () => {
  for (let chunk = 1; chunk <= NESTED.length; chunk += chunk < 64 ? 1 : 97) {
    assert.deepEqual(await bodyParts(NESTED, { ...BODY_LIMITS, chunk }), NESTED_PARTS, `chunk ${chunk}`);
  }
});

test("no Content-Type is text/plain; no or an unknown charset reads as UTF-8", async () => {
  assert.deepEqual(await bodyParts(Buffer.from("Subject: x\r\n\r\nhéllo\r\n", "utf8")), [
    { type: "text/plain", text: "héllo\r\n" },
  ]);
  assert.deepEqual(
    await bodyParts(Buffer.from("Content-Type: text/plain; charset=x-nobody-knows\r\n\r\nhéllo", "utf8")),
    [{ type: "text/plain", text: "héllo" }],
  );
});

test("a multipart that never closes keeps the parts it has", async () => {
  const open = msg(
    'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\n',
    "Content-Type: text/plain\r\n\r\ntwo, cut off",
  );
  assert.deepEqual(await bodyParts(open), [
    { type: "text/plain", text: "one" },
    { type: "text/plain", text: "two, cut off" },
  ]);
});

test("bounded: parts per message, bytes per part, bytes per message", async () => {
  const parts = Array.from({ length: 10 }, (_x, i) => `--b\r\n\r\npart ${i} ${"x".repeat(100)}\r\n`).join("");
  const many = msg('Content-Type: multipart/mixed; boundary="b"\r\n\r\n', parts, "--b--\r\n");
  const limits = { ...BODY_LIMITS, maxParts: 3 };
  assert.equal((await bodyParts(many, limits)).length, 3);
  const short = await bodyParts(many, { ...BODY_LIMITS, maxPartBytes: 6 });
  assert.equal(short.length, 10);
  assert.ok(short.every((p, i) => p.text === `part ${i}`));
  const total = await bodyParts(many, { ...BODY_LIMITS, maxTotalBytes: 250 });
  assert.equal(
    total.map((p) => p.text.length).reduce((a, b) => a + b),
    250,
  );
  assert.equal(total.length, 3);
});

test("a header block past the splitter's limit ends the walk without an error", async () => {
  const huge = msg("Subject: x\r\n", `X-Big: ${"y".repeat(300 << 10)}\r\n`, "\r\nbody\r\n");
  assert.deepEqual(await bodyParts(huge), []);
});
