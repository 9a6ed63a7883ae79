// .sub files read as the PIPE module's documentation says: Envelope-To, Envelope-Ignore, Bcc,
// Envelope-From/Return-Path, and the reasons a file is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { joinMessage } from "../message/header.js";
import { readSubFile } from "./sub-file.js";

const read = (s: string) => readSubFile(Buffer.from(s, "utf8"));
const text = (r: ReturnType<typeof read>): string => {
  assert.ok(r.ok);
  return joinMessage(r.message.fields, r.message.body).toString("utf8");
};

void test("without Envelope-To the recipients are To, Cc and Bcc, and Bcc leaves the message", () => {
  const r = read(
    "From: Me <me@x.test>\nTo: a@x.test, B <b@x.test>\nCc: c@x.test\nBcc: hidden@x.test\nSubject: s\n\nbody\n",
  );
  assert.ok(r.ok);
  assert.deepEqual(r.recipients, ["a@x.test", "b@x.test", "c@x.test", "hidden@x.test"]);
  assert.equal(r.returnPath, "me@x.test");
  assert.equal(r.source, "submitted");
  assert.doesNotMatch(text(r), /Bcc|hidden/);
  assert.match(
    text(r),
    /^From: Me <me@x\.test>\r\nTo: a@x\.test, B <b@x\.test>\r\nCc: c@x\.test\r\nSubject: s\r\n\r\nbody\r\n$/,
  );
});

void test("Envelope-To fields are the recipients: To/Cc/Bcc are not placed into the envelope", () => {
  const r = read(
    "Envelope-To: real@x.test\nEnvelope-To: <two@x.test>, three@x.test\nTo: shown@x.test\nBcc: b@x.test\n\nbody\n",
  );
  assert.ok(r.ok);
  assert.deepEqual(r.recipients, ["real@x.test", "two@x.test", "three@x.test"]);
  const t = text(r);
  assert.doesNotMatch(t, /Envelope-To|Bcc/);
  assert.match(t, /^To: shown@x\.test\r\n/);
});

void test("Envelope-Ignore drops those To/Cc/Bcc addresses from the envelope, and leaves the message", () => {
  const r = read(
    "To: a@x.test, list@x.test\nCc: B@X.test\nEnvelope-Ignore: list@x.test\nEnvelope-Ignore: b@x.test\n\nbody\n",
  );
  assert.ok(r.ok);
  assert.deepEqual(r.recipients, ["a@x.test"]);
  assert.doesNotMatch(text(r), /Envelope-Ignore/);
  assert.match(text(r), /To: a@x\.test, list@x\.test/);
});

void test("Envelope-Ignore has no say when Envelope-To is given", () => {
  const r = read("Envelope-To: a@x.test\nEnvelope-Ignore: a@x.test\nTo: z@x.test\n\nbody\n");
  assert.ok(r.ok);
  assert.deepEqual(r.recipients, ["a@x.test"]);
});

void test("the sender: Envelope-From, else Return-Path, else Sender/From; <> is the null sender", () => {
  const ef = read(
    "Envelope-From: <bounce@x.test>\nReturn-Path: <other@x.test>\nFrom: me@x.test\nTo: a@x.test\n\nb\n",
  );
  assert.ok(ef.ok);
  assert.equal(ef.returnPath, "bounce@x.test");
  assert.doesNotMatch(text(ef), /Envelope-From|Return-Path/);
  const rp = read("Return-Path: <rp@x.test>\nFrom: me@x.test\nTo: a@x.test\n\nb\n");
  assert.ok(rp.ok);
  assert.equal(rp.returnPath, "rp@x.test");
  const sender = read("Sender: s@x.test\nFrom: me@x.test\nTo: a@x.test\n\nb\n");
  assert.ok(sender.ok);
  assert.equal(sender.returnPath, "s@x.test");
  const nul = read("Envelope-From: <>\nFrom: me@x.test\nTo: a@x.test\n\nb\n");
  assert.ok(nul.ok);
  assert.equal(nul.returnPath, "");
});

void test("X-Mailyard-Source: pipe (written by mailyard sendmail) keeps the pipe tag and is removed", () => {
  const r = read("Envelope-To: a@x.test\nX-Mailyard-Source: pipe\nTo: a@x.test\n\nb\n");
  assert.ok(r.ok);
  assert.equal(r.source, "pipe");
  assert.doesNotMatch(text(r), /X-Mailyard/);
  const other = read("Envelope-To: a@x.test\nX-Mailyard-Source: api\n\nb\n");
  assert.ok(other.ok);
  assert.equal(other.source, "submitted");
});

void test("refusals come with a reason: no recipients, a bad address, no header", () => {
  assert.deepEqual(read("Subject: nobody\n\nb\n"), { ok: false, reason: "no recipients" });
  const ignored = read("To: a@x.test\nEnvelope-Ignore: a@x.test\n\nb\n");
  assert.deepEqual(ignored, { ok: false, reason: "no recipients" });
  const bad = read("To: not an address\n\nb\n");
  assert.equal(bad.ok, false);
  const badTo = read("Envelope-To: a@@x.test\n\nb\n");
  assert.ok(!badTo.ok && /bad recipient/.test(badTo.reason));
  const junk = read("this is not a message\n");
  assert.ok(!junk.ok && /not a header field/.test(junk.reason));
  assert.equal(read("").ok, false);
});
