// The message as milters see it: the header found at every split point of the stream, fields
// as SMFIC_HEADER values, libmilter's header edit semantics, added values that cannot inject a
// field, replacement bodies with CRLF; and smtp.milters entries parsed or refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  HeaderSplit,
  applyHeaderEdits,
  fieldBytes,
  fieldValue,
  normaliseBody,
  splitFields,
} from "./content.js";
import { parseMilterSpec } from "./spec.js";

const msg = Buffer.from("From: a@b.test\r\nSubject: one\r\n two\r\nX-A: 1\r\n\r\nbody\r\n\r\nmore\r\n");
const headerLen = msg.indexOf("\r\n\r\n") + 4;

void test("the header section is found whatever the chunk boundaries", () => {
  const check = (pieces: Buffer[]): void => {
    const s = new HeaderSplit();
    let header: Buffer | null = null;
    const body: Buffer[] = [];
    for (const p of pieces) {
      const r = s.push(p);
      if (r === null) continue;
      if (header === null) header = r.header;
      body.push(r.body);
    }
    assert.deepEqual(header, msg.subarray(0, headerLen));
    assert.deepEqual(Buffer.concat(body), msg.subarray(headerLen));
  };
  for (let i = 0; i <= msg.length; i++) {
    for (let j = i; j <= msg.length; j += 7) check([msg.subarray(0, i), msg.subarray(i, j), msg.subarray(j)]);
  }
  check([...msg].map((b) => Buffer.from([b])));
  // No header at all; a message that is only a header.
  const s = new HeaderSplit();
  assert.deepEqual(s.push(Buffer.from("\r\nbody")), {
    header: Buffer.from("\r\n"),
    body: Buffer.from("body"),
  });
  const h = new HeaderSplit();
  assert.equal(h.push(Buffer.from("Subject: x\r\n")), null);
  assert.deepEqual(h.end(), Buffer.from("Subject: x\r\n"));
});

void test("fields carry folded values without the leading space; edits follow libmilter", () => {
  const fields = splitFields(msg.subarray(0, headerLen));
  assert.deepEqual(
    fields.map((f) => [f.name, fieldValue(f)]),
    [
      ["From", "a@b.test"],
      ["Subject", "one\n two"],
      ["X-A", "1"],
    ],
  );
  const edited = applyHeaderEdits(fields, [
    { kind: "addheader", name: "X-Spam", value: "Yes" },
    { kind: "insheader", index: 0, name: "X-Top", value: "t" },
    { kind: "chgheader", index: 1, name: "subject", value: "new" },
    { kind: "chgheader", index: 1, name: "X-A", value: "" },
    { kind: "chgheader", index: 1, name: "X-Missing", value: "added" },
    { kind: "chgheader", index: 2, name: "From", value: "" },
  ]);
  assert.equal(
    Buffer.concat(edited.map((f) => f.raw)).toString(),
    "X-Top: t\r\nFrom: a@b.test\r\nSubject: new\r\nX-Spam: Yes\r\nX-Missing: added\r\n",
  );
});

void test("an added value cannot start a new field or end the header", () => {
  assert.equal(
    fieldBytes("X-A", "a\r\nBcc: evil@x.test\n\nbody\0").toString(),
    "X-A: a\r\n\tBcc: evil@x.test\r\n\tbody\r\n",
  );
  assert.equal(fieldBytes("X-A", "line1\n\tline2\n").toString(), "X-A: line1\r\n\tline2\r\n");
  assert.equal(normaliseBody(Buffer.from("a\nb\r\nc\rd")).toString(), "a\r\nb\r\nc\r\nd");
});

void test("smtp.milters entries: addresses, options, refusals", () => {
  const d = {
    defaultAction: "tempfail",
    connectTimeoutSeconds: 30,
    commandTimeoutSeconds: 30,
    contentTimeoutSeconds: 300,
  } as const;
  const a = parseMilterSpec(
    "inet:127.0.0.1:11332 events=mail+rcpt,body defaultAction=accept contentTimeout=60",
    d,
  );
  assert.ok(typeof a !== "string");
  assert.deepEqual(a.target, { kind: "inet", host: "127.0.0.1", port: 11332 });
  assert.deepEqual([...a.events].sort(), ["body", "connect", "eom", "mail", "rcpt"]);
  assert.equal(a.defaultAction, "accept");
  assert.equal(a.contentTimeoutMs, 60_000);
  assert.equal(a.commandTimeoutMs, 30_000);
  const u = parseMilterSpec("unix:/run/clamav/clamav-milter.ctl", d);
  assert.ok(typeof u !== "string");
  assert.deepEqual(u.target, { kind: "unix", path: "/run/clamav/clamav-milter.ctl" });
  assert.deepEqual((parseMilterSpec("inet:[::1]:8891", d) as { target: unknown }).target, {
    kind: "inet",
    host: "::1",
    port: 8891,
  });
  for (const bad of [
    "tcp:1.2.3.4:5",
    "inet:host",
    "inet:h:70000",
    "unix:relative",
    "inet:h:1 events=spam",
    "inet:h:1 defaultAction=discard",
    "inet:h:1 commandTimeout=0",
    "inet:h:1 colour=blue",
  ]) {
    assert.equal(typeof parseMilterSpec(bad, d), "string", bad);
  }
});
