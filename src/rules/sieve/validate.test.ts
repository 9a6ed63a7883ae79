// Parser and validator: valid scripts compile; invalid ones fail with the exact line and column.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileSieve } from "./validate.js";
import { parseSieve } from "./parser.js";
import { tokenize } from "./lexer.js";

const VALID = [
  "keep;",
  "",
  "# only a comment\n/* and\n a block comment */",
  'if header :contains "subject" "sale" { discard; stop; } elsif exists "x-spam" { keep; } else { keep; }',
  'require ["fileinto", "copy", "imap4flags"];\nfileinto :copy :flags ["\\\\Seen", "$Junk"] "Junk";',
  'require "vacation";\nvacation :days 3 :subject "Away" :from "me@example.test" :addresses ["me@example.test"] :handle "h1" :mime text:\nI am away.\n..dot line\n.\n;',
  'require ["variables"]; set :lower :upperfirst "name" "VALUE"; if string :is "${name}" "Value" { keep; }',
  'require ["relational", "comparator-i;ascii-numeric"]; if header :value "ge" :comparator "i;ascii-numeric" "x-score" "5" { discard; }',
  'require "relational"; if address :count "gt" ["to", "cc"] "3" { discard; }',
  'require ["envelope", "subaddress"]; if envelope :detail "to" "lists" { keep; }',
  'require ["date", "index"]; if date :index 1 :last :zone "+0100" "date" "year" "2026" { keep; }',
  'require ["date", "relational"]; if currentdate :value "ge" "hour" "09" { keep; }',
  'require "regex"; if header :regex "subject" "^\\\\[list\\\\]" { keep; }',
  'require "editheader"; addheader :last "X-Seen" "yes"; deleteheader :index 1 :matches "x-spam" "*";',
  'require "body"; if body :content "text" :contains "offer" { discard; }',
  'require ["reject", "ereject"]; if size :over 10M { reject "too big"; } else { ereject "no"; }',
  'if allof (true, not false, anyof (exists "to", size :under 1K)) { keep; }',
  'redirect "bob@example.test";',
];

for (const s of VALID) {
  test(`compiles: ${JSON.stringify(s).slice(0, 70)}`, () => {
    const r = compileSieve(s);
    assert.ok(r.ok, r.ok ? "" : r.errors.map((e) => e.message).join("; "));
  });
}

const INVALID: [script: string, line: number, column: number, reason: string][] = [
  ["keep", 1, 5, "expected ';' or '{' after keep, found end of script"],
  ["if true { keep;", 1, 16, "missing '}' at end of script"],
  ['keep;\n  "x";', 2, 3, "expected a command, found a string"],
  ['fileinto "a";', 1, 1, `command 'fileinto' needs require "fileinto"`],
  ['require "fileinto";\nfileinto :copy "a";', 2, 10, `':copy' needs require "copy"`],
  ['require "bogus";', 1, 9, "unknown extension 'bogus'"],
  ["frobnicate;", 1, 1, "unknown command 'frobnicate'"],
  ["if frob { keep; }", 1, 4, "unknown test 'frob'"],
  ['if header :contains "subject" { keep; }', 1, 4, "header: missing a string list"],
  ['if header :contains 5 "x" { keep; }', 1, 21, "header: argument 1 must be a string list"],
  ['if header :over "a" "b" { keep; }', 1, 11, "unknown tagged argument ':over' for header"],
  ['if header :is :contains "a" "b" { keep; }', 1, 15, "':contains' conflicts with ':is'"],
  ['keep;\nrequire "fileinto";', 2, 1, "require must come before any other command"],
  ["else { keep; }", 1, 1, "else without a preceding if"],
  ['redirect ["a@b.test", "c@d.test"];', 1, 10, "redirect: argument 1 must be a string"],
  ["if size 100 { keep; }", 1, 4, "size needs :over or :under"],
  [
    'require "relational";\nif header :value "bigger" "a" "b" { keep; }',
    2,
    18,
    "unknown relational operator 'bigger'",
  ],
  ['require "vacation";\nvacation :days "three" "away";', 2, 16, "':days' needs a number"],
  ['if header :comparator "i;klingon" "a" "b" { keep; }', 1, 23, "unknown comparator 'i;klingon'"],
  ['require "date";\nif date "date" "century" "20" { keep; }', 2, 16, "unknown date part 'century'"],
  ['require "variables";\nset "1bad" "x";', 2, 5, "bad variable name '1bad'"],
  ['if header "a" "b" keep;', 1, 19, "header takes no test"],
  ['keep "x";', 1, 6, "keep: too many arguments"],
  ["discard { keep; }", 1, 1, "discard takes no block"],
  ["if true;", 1, 1, "if needs a block"],
  ["/* never closed", 1, 1, "unterminated comment"],
  ['keep;\nredirect "open', 2, 10, "unterminated string"],
  [
    'require "vacation";\nvacation text:\nno end',
    2,
    10,
    "unterminated text: string (a line with a single '.' ends it)",
  ],
  ['if header ["a", ] "b" { keep; }', 1, 17, "expected a string in the list, found ']'"],
  ["if anyof true { keep; }", 1, 4, "anyof needs a test list in parentheses"],
  ['require "index";\nif header :last "a" "b" { keep; }', 2, 4, "':last' needs ':index'"],
  ['require "regex";\nif header :regex "a" "(" { keep; }', 2, 22, "bad regular expression '('"],
  ["keep; @", 1, 7, "unexpected character '@'"],
];

for (const [script, line, column, reason] of INVALID) {
  test(`rejects at ${line}:${column}: ${reason}`, () => {
    const r = compileSieve(script);
    assert.equal(r.ok, false);
    if (r.ok) return;
    const e = r.errors[0]!;
    assert.deepEqual({ line: e.pos.line, column: e.pos.column, reason: e.reason }, { line, column, reason });
    assert.equal(e.message, `line ${line}, column ${column}: ${reason}`);
  });
}

test("several errors are all reported, in order", () => {
  const r = compileSieve('fileinto "a";\nfrob;\nif frob2 { keep; }');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(
    r.errors.map((e) => `${e.pos.line}:${e.pos.column}`),
    ["1:1", "2:1", "3:4"],
  );
});

test("multi-line strings: dot-stuffing undone, CRLF line ends, the position of text:", () => {
  const tokens = tokenize("vacation text:   # comment\r\nline 1\r\n..line 2\r\n.\r\n;");
  const s = tokens[1]!;
  assert.equal(s.type, "string");
  assert.equal(s.type === "string" ? s.value : "", "line 1\r\n.line 2\r\n");
  assert.deepEqual(s.pos, { line: 1, column: 10 });
  assert.deepEqual(tokens[2]!.pos, { line: 5, column: 1 });
});

test('quoted strings: \\\\ and \\" are the only escapes; other backslashes vanish', () => {
  const [cmd] = parseSieve('redirect "a\\\\b\\"c\\d";');
  const arg = cmd!.args[0]!;
  assert.equal(arg.kind === "strings" ? arg.values[0] : "", 'a\\b"cd');
});

test("numbers take K, M and G; identifiers and tags are case-insensitive", () => {
  const t = tokenize("SIZE :OVER 2K 3m 1G");
  assert.deepEqual(
    t.map((x) => ("value" in x ? x.value : x.type)),
    ["size", "over", 2048, 3 * 1024 * 1024, 1024 ** 3, "eof"],
  );
});

test("every byte-offset prefix of a valid script either compiles or fails with a position (never throws)", () => {
  const s = VALID[5]!;
  for (let i = 0; i <= s.length; i++) {
    const r = compileSieve(s.slice(0, i));
    if (!r.ok) for (const e of r.errors) assert.ok(e.pos.line >= 1 && e.pos.column >= 1);
  }
});

test("deep nesting is refused with a position instead of overflowing the stack", () => {
  const s = "if true {".repeat(100) + "}".repeat(100);
  const r = compileSieve(s);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.errors[0]!.reason, /nested too deeply/);
});
