// DSN builder: the output is parsed back (boundary, parts, fields) and checked field by field.
import { test } from "node:test";
import assert from "node:assert/strict";
import libqp from "libqp";
import { buildDsn, dsnStatus, type DsnInput } from "./dsn.js";
import type { Envelope } from "./envelope.js";

const envelope: Envelope = {
  id: "ABCDEFGHIJKLMNOPQ",
  returnPath: "sender@origin.test",
  recipients: [
    { address: "gone@far.test", original: null, notify: null, orcpt: "rfc822;Gone@Far.test" },
    { address: "slow@far.test", original: "alias@origin.test", notify: null, orcpt: null },
  ],
  ret: "FULL",
  envid: "ENV-42",
  body: "7BIT",
  smtputf8: false,
  source: "smtp",
  authUser: null,
  client: null,
  arrival: Date.UTC(2026, 0, 1, 10, 0, 0),
  size: 60,
};
const original = Buffer.from("From: a@origin.test\r\nSubject: hello\r\n\r\nbody line\r\n");

const input = (over: Partial<DsnInput>): DsnInput => ({
  kind: "failure",
  reportingMta: "mx.mailyard.test",
  envelope,
  recipients: [
    {
      rcpt: envelope.recipients[0]!,
      action: "failed",
      reply: { code: 550, enhanced: "5.1.1", text: "No such\r\nuser" },
      relay: "mx.far.test[192.0.2.7]:25",
    },
  ],
  originalHeaders: Buffer.from("From: a@origin.test\r\nSubject: hello\r\n\r\n"),
  originalMessage: original,
  now: Date.UTC(2026, 0, 2, 10, 0, 0),
  messageId: "XYZ@mx.mailyard.test",
  ...over,
});

interface Part {
  headers: Map<string, string>;
  body: string;
}

function parseHeaders(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
    const c = line.indexOf(":");
    if (c > 0) m.set(line.slice(0, c).toLowerCase(), line.slice(c + 1).trim());
  }
  return m;
}

function parse(raw: Buffer): { headers: Map<string, string>; parts: Part[]; boundary: string } {
  const s = raw.toString("utf8");
  // Every line ends in CRLF: no bare LF anywhere in what we generated.
  assert.doesNotMatch(s.replace(/\r\n/g, ""), /\n/);
  const split = s.indexOf("\r\n\r\n");
  const headers = parseHeaders(s.slice(0, split));
  const ct = headers.get("content-type") ?? "";
  const boundary = /boundary="([^"]+)"/.exec(ct)?.[1] ?? "";
  assert.ok(boundary.length > 0, "boundary present");
  const body = s.slice(split + 4);
  const pieces = body.split(`\r\n--${boundary}`);
  assert.ok(pieces[pieces.length - 1]!.startsWith("--"), "closing delimiter");
  const parts = pieces.slice(1, -1).map((p) => {
    const q = p.replace(/^\r\n/, "");
    const e = q.indexOf("\r\n\r\n");
    return { headers: parseHeaders(q.slice(0, e)), body: q.slice(e + 4) };
  });
  return { headers, parts, boundary };
}

/** Delivery-status body → per-message fields and per-recipient field groups. */
function groups(body: string): Map<string, string>[] {
  return body
    .trim()
    .split("\r\n\r\n")
    .map((g) => parseHeaders(g));
}

void test("failure DSN: structure, per-message and per-recipient fields, full message returned", () => {
  const { headers, parts } = parse(buildDsn(input({})));
  assert.equal(headers.get("from"), "Mail Delivery System <MAILER-DAEMON@mx.mailyard.test>");
  assert.equal(headers.get("to"), "<sender@origin.test>");
  assert.equal(headers.get("subject"), "Undelivered Mail Returned to Sender");
  assert.equal(headers.get("auto-submitted"), "auto-replied");
  assert.equal(headers.get("message-id"), "<XYZ@mx.mailyard.test>");
  assert.equal(headers.get("date"), "Fri, 2 Jan 2026 10:00:00 +0000");
  assert.match(headers.get("content-type")!, /^multipart\/report; report-type=delivery-status;/);
  assert.equal(parts.length, 3);
  assert.match(parts[0]!.headers.get("content-type")!, /^text\/plain/);
  assert.match(parts[0]!.body, /<gone@far\.test>: host mx\.far\.test said: 550 5\.1\.1 No such user/);
  assert.equal(parts[1]!.headers.get("content-type"), "message/delivery-status");
  const [msg, r1, ...rest] = groups(parts[1]!.body);
  assert.equal(rest.length, 0);
  assert.equal(msg!.get("reporting-mta"), "dns; mx.mailyard.test");
  assert.equal(msg!.get("original-envelope-id"), "ENV-42");
  assert.equal(msg!.get("arrival-date"), "Thu, 1 Jan 2026 10:00:00 +0000");
  assert.equal(r1!.get("original-recipient"), "rfc822;Gone@Far.test");
  assert.equal(r1!.get("final-recipient"), "rfc822; gone@far.test");
  assert.equal(r1!.get("action"), "failed");
  assert.equal(r1!.get("status"), "5.1.1");
  assert.equal(r1!.get("remote-mta"), "dns; mx.far.test");
  assert.equal(r1!.get("diagnostic-code"), "smtp; 550 5.1.1 No such user");
  assert.equal(parts[2]!.headers.get("content-type"), "message/rfc822");
  assert.equal(parts[2]!.body, original.toString());
});

void test("headers only: text/rfc822-headers without the empty line", () => {
  const { parts } = parse(buildDsn(input({ originalMessage: null })));
  assert.equal(parts[2]!.headers.get("content-type"), "text/rfc822-headers");
  assert.equal(parts[2]!.body, "From: a@origin.test\r\nSubject: hello\r\n");
});

void test("delay DSN: delayed action, 4.x status, Will-Retry-Until, original recipient from expansion", () => {
  const raw = buildDsn(
    input({
      kind: "delay",
      originalMessage: null,
      recipients: [
        {
          rcpt: envelope.recipients[1]!,
          action: "delayed",
          reply: { code: 451, enhanced: "4.4.1", text: "Connection refused" },
          relay: null,
        },
      ],
      willRetryUntil: Date.UTC(2026, 0, 6, 10, 0, 0),
    }),
  );
  const { headers, parts } = parse(raw);
  assert.equal(headers.get("subject"), "Delayed Mail (still being retried)");
  const [, r] = groups(parts[1]!.body);
  assert.equal(r!.get("action"), "delayed");
  assert.equal(r!.get("status"), "4.4.1");
  assert.equal(r!.get("original-recipient"), "rfc822; alias@origin.test");
  assert.equal(r!.get("will-retry-until"), "Tue, 6 Jan 2026 10:00:00 +0000");
  assert.equal(r!.has("remote-mta"), false);
});

void test("expiry is reported as failed with 5.4.7 and the last temporary reply as diagnostic", () => {
  assert.equal(dsnStatus("failed", { code: 451, enhanced: "4.4.1", text: "x" }), "5.4.7");
  // given up on a mailbox that stayed full: said as mailbox full (RFC 3463 X.2.2)
  assert.equal(dsnStatus("failed", { code: 452, enhanced: "4.2.2", text: "Mailbox full" }), "5.2.2");
  assert.equal(dsnStatus("failed", { code: 554, enhanced: null, text: "x" }), "5.0.0");
  assert.equal(dsnStatus("delivered", { code: 250, enhanced: "2.0.0", text: "x" }), "2.0.0");
  assert.equal(dsnStatus("delayed", null), "4.0.0");
});

void test("a boundary found in the original is avoided", () => {
  const first = parse(buildDsn(input({}))).boundary;
  const hostile = Buffer.from(`Subject: x\r\n\r\n--${first}\r\n`);
  const { boundary, parts } = parse(buildDsn(input({ originalMessage: hostile })));
  assert.notEqual(boundary, first);
  assert.equal(parts.length, 3);
});

void test("8-bit originals are labelled 8bit", () => {
  const raw = buildDsn(input({ envelope: { ...envelope, body: "8BITMIME" } }));
  assert.equal(parse(raw).parts[2]!.headers.get("content-transfer-encoding"), "8bit");
});

void test("a non-ASCII notification goes quoted-printable: that part is 7bit (RFC 2045 §6.7)", () => {
  const raw = buildDsn(
    input({
      recipients: [
        {
          rcpt: envelope.recipients[0]!,
          action: "failed",
          reply: { code: 550, enhanced: "5.1.1", text: "Benutzer unbekannt: Müller, ユーザー不明" },
          relay: "mx.far.test[192.0.2.7]:25",
        },
      ],
      originalMessage: null,
    }),
  );
  const { parts } = parse(raw);
  // eslint-disable-next-line no-control-regex
  assert.match(parts[0]!.body, /^[\u0000-\u007f]*$/, "the notification's bytes are ASCII");
  assert.equal(parts[0]!.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(parts[0]!.headers.get("content-transfer-encoding"), "quoted-printable");
  assert.match(libqp.decode(parts[0]!.body).toString("utf8"), /Müller, ユーザー不明/);
});

void test("an enclosed original with stray CR, LF or NUL leaves as CRLF-only text", () => {
  const sneaky = "X-A: 1\n.\nMAIL FROM:<x@y.test>\r\nX-B: 2\r.\rX-C: \x003\r\n.\nX-D: 4\n.\r\n";
  for (const over of [
    { originalHeaders: Buffer.from(`${sneaky}\r\n`, "latin1"), originalMessage: null },
    { originalMessage: Buffer.from(`${sneaky}\r\nbody\n.\nmore\r`, "latin1") },
  ]) {
    const raw = buildDsn(input(over)).toString("latin1");
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(raw, /\r(?!\n)|(?<!\r)\n|\x00/, JSON.stringify(Object.keys(over)));
    assert.match(raw, /X-A: 1\r\n\.\r\nMAIL FROM/);
  }
});
