import { test } from "node:test";
import assert from "node:assert/strict";
import { CommandLines, type CommandLine } from "./commandline.js";

const show = (l: CommandLine | null): string | null =>
  l === null ? null : l.kind === "tooLong" ? "<too long>" : l.text.toString("latin1");

function all(chunks: readonly string[], max = 512): (string | null)[] {
  const r = new CommandLines(max);
  const out: (string | null)[] = [];
  for (const c of chunks) {
    r.push(Buffer.from(c, "latin1"));
    for (let l = r.next(); l !== null; l = r.next()) out.push(show(l));
  }
  return out;
}

test("lines split at CRLF, whatever the chunking", () => {
  const text = "EHLO a.test\r\nMAIL FROM:<a@b.test>\r\nNOOP\r\n";
  const want = ["EHLO a.test", "MAIL FROM:<a@b.test>", "NOOP"];
  for (let i = 0; i <= text.length; i++)
    assert.deepEqual(all([text.slice(0, i), text.slice(i)]), want, `split ${i}`);
  assert.deepEqual(all([...text]), want);
});

test("a bare LF ends a command line too (tolerated for commands only)", () => {
  assert.deepEqual(all(["NOOP\nQUIT\r\n"]), ["NOOP", "QUIT"]);
});

test("the limit counts the CRLF; longer lines are reported once and skipped", () => {
  const ok = `${"A".repeat(510)}\r\n`;
  assert.deepEqual(all([ok]), ["A".repeat(510)]);
  assert.deepEqual(all([`${"A".repeat(511)}\r\nNOOP\r\n`]), ["<too long>", "NOOP"]);
  // A line that goes on for ever is dropped as it comes (memory stays bounded).
  const r = new CommandLines(512);
  for (let i = 0; i < 100; i++) {
    r.push(Buffer.alloc(1000, 0x41));
    assert.equal(r.next(), null);
    assert.ok(r.buffered <= 1000);
  }
  r.push(Buffer.from("\r\nQUIT\r\n"));
  assert.equal(show(r.next()), "<too long>");
  assert.equal(show(r.next()), "QUIT");
});

test("take() hands back the unread bytes and empties the reader", () => {
  const r = new CommandLines(512);
  r.push(Buffer.from("DATA\r\nSubject: x\r\n"));
  assert.equal(show(r.next()), "DATA");
  assert.equal(r.take().toString(), "Subject: x\r\n");
  assert.equal(r.next(), null);
  assert.equal(r.buffered, 0);
});
