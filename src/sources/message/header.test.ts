// The header block as sources read and write it: line ends, folding, removal, and refusals.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  field,
  fieldValues,
  HeaderError,
  joinMessage,
  parseMessage,
  toCrlf,
  withoutFields,
} from "./header.js";

const msg = (s: string): Buffer => toCrlf(Buffer.from(s, "utf8"));

void test("toCrlf turns lone LF into CRLF and leaves CRLF and lone CR alone", () => {
  assert.equal(toCrlf(Buffer.from("a\nb\r\nc\rd\n")).toString(), "a\r\nb\r\nc\rd\r\n");
  assert.equal(toCrlf(Buffer.from("no newline")).toString(), "no newline");
});

void test("folded fields are unfolded for reading and kept as written", () => {
  const m = parseMessage(msg("To: a@x.test,\n\tb@x.test\nSubject: hi\n\nbody\n.\nend\n"));
  assert.deepEqual(
    m.fields.map((f) => f.name),
    ["To", "Subject"],
  );
  assert.equal(fieldValues(m, ["to"])[0], "a@x.test,\tb@x.test");
  assert.equal(m.fields[0]!.raw, "To: a@x.test,\r\n\tb@x.test\r\n");
  assert.equal(m.body.toString(), "body\r\n.\r\nend\r\n");
});

void test("removing a folded field removes its continuation lines; join gives the rest back byte for byte", () => {
  const m = parseMessage(msg("From: me@x.test\nBcc: secret@x.test,\n  other@x.test\nSubject: s\n\nbody\n"));
  const out = joinMessage(withoutFields(m, ["BCC"]).fields, m.body).toString();
  assert.equal(out, "From: me@x.test\r\nSubject: s\r\n\r\nbody\r\n");
  assert.doesNotMatch(out, /secret|other/);
});

void test("UTF-8 in field values is read as UTF-8 and written unchanged", () => {
  const m = parseMessage(msg("Subject: grüße\n\nx\n"));
  assert.equal(fieldValues(m, ["subject"])[0], "grüße");
  assert.equal(joinMessage(m.fields, m.body).toString("utf8"), "Subject: grüße\r\n\r\nx\r\n");
  assert.equal(
    joinMessage([field("X-Name", "Jörg")], Buffer.alloc(0)).toString("utf8"),
    "X-Name: Jörg\r\n\r\n",
  );
});

void test("a message without a blank line is all header", () => {
  const m = parseMessage(msg("Subject: only\n"));
  assert.equal(m.fields.length, 1);
  assert.equal(m.body.length, 0);
});

void test("what is not a header is refused with a reason", () => {
  assert.throws(() => parseMessage(msg("just text\n\nbody")), HeaderError);
  assert.throws(() => parseMessage(msg(" continuation: first\n\n")), /continuation/);
  assert.throws(() => parseMessage(msg("\nbody only\n")), /no header/);
  assert.throws(() => parseMessage(msg("Bad Name: x\n\n")), /field name/);
  assert.throws(() => field("X", "two\r\nlines"), HeaderError);
});
