// Interpreter tests beyond the Pigeonhole corpus: ereject, run-time errors, the vacation
// verdict, editheader's result, variables' modifiers, date parts and zones.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileSieve } from "./validate.js";
import { runSieve, type SieveResult } from "./interpret.js";
import { vacationVerdict } from "./vacation.js";
import { view, NOW } from "../../../test/kit/message-view.js";
import type { MessageView } from "../message.js";
import { bodyParts } from "../body.js";

const HEADER = [
  "From: Bob <bob@remote.test>",
  "To: alice@example.test",
  "Subject: Hello there",
  "Date: Tue, 1 Dec 2026 09:15:30 -0500",
  "X-Score: 12",
];

function runs(src: string, v: MessageView = view(HEADER)): Promise<SieveResult> {
  const c = compileSieve(src);
  assert.ok(c.ok, c.ok ? "" : c.errors.map((e) => e.message).join("; "));
  return runSieve(c.script, v);
}

const kinds = (r: SieveResult): string[] =>
  r.actions.map((a) =>
    a.kind === "fileinto"
      ? `fileinto:${a.folder}`
      : a.kind === "keep"
        ? a.implicit
          ? "implicit-keep"
          : "keep"
        : a.kind,
  );

test("ereject cancels the implicit keep and says it is an SMTP-level reject", async () => {
  const r = await runs('require "ereject"; ereject "no thanks";');
  assert.deepEqual(r.actions, [{ kind: "reject", text: "no thanks", ereject: true }]);
});

const ERRORS: [string, string][] = [
  [
    'require ["regex", "variables"]; set "p" "("; if header :regex "subject" "${p}" { discard; }',
    "bad regular expression",
  ],
  ['require ["reject", "fileinto"]; fileinto "A"; reject "no";', "reject conflicts with fileinto"],
  [
    'redirect "a@x.test"; redirect "b@x.test"; redirect "c@x.test"; redirect "d@x.test"; redirect "e@x.test";',
    "too many redirect actions",
  ],
  ['redirect "not an address";', "bad redirect address 'not an address'"],
  ['require ["vacation"]; vacation "a"; vacation "b";', "more than one vacation action"],
  ['require ["fileinto", "variables"]; fileinto "${nothing}";', "bad folder name ''"],
];
for (const [src, error] of ERRORS) {
  test(`run-time error leaves only the implicit keep: ${error}`, async () => {
    const r = await runs(src);
    assert.equal(r.error, error);
    assert.deepEqual(r.actions, [{ kind: "keep", flags: [], implicit: true }]);
  });
}

test("stop ends the script; the implicit keep stays unless cancelled before", async () => {
  assert.deepEqual(kinds(await runs('require "fileinto"; stop; fileinto "X";')), ["implicit-keep"]);
  assert.deepEqual(kinds(await runs('require "fileinto"; fileinto "X"; stop; keep;')), ["fileinto:X"]);
});

test("fileinto :copy keeps the implicit keep; discard cancels it", async () => {
  assert.deepEqual(kinds(await runs('require ["fileinto", "copy"]; fileinto :copy "X";')), [
    "fileinto:X",
    "implicit-keep",
  ]);
  assert.deepEqual(kinds(await runs("discard;")), ["discard"]);
});

test("editheader: the result carries the edited header, and later tests see it", async () => {
  const r = await runs(
    'require ["editheader", "fileinto"]; addheader "X-New" "1"; addheader :last "X-End" "2"; deleteheader "x-score"; deleteheader "received"; if exists "x-new" { fileinto "Seen"; }',
  );
  assert.deepEqual(kinds(r), ["fileinto:Seen"]);
  assert.deepEqual(
    r.headers?.map((h) => h.name),
    ["X-New", "From", "To", "Subject", "Date", "X-End"],
  );
  assert.equal((await runs("keep;")).headers, null);
});

test("editheader never touches Received or Auto-Submitted", async () => {
  const r = await runs(
    'require "editheader"; addheader "Received" "forged"; deleteheader "received";',
    view(["Received: from a", "Subject: x"]),
  );
  assert.equal(r.headers, null);
});

test("deleteheader :index with value patterns removes only the matching occurrence", async () => {
  const v = view(["X-T: one", "X-T: two", "X-T: three", "Subject: s"]);
  const r = await runs(
    'require "editheader"; deleteheader :index 2 "x-t"; deleteheader :matches "x-t" "t*";',
    v,
  );
  assert.deepEqual(
    r.headers?.map((h) => `${h.name}: ${h.value}`),
    ["X-T: one", "Subject: s"],
  );
});

const VARIABLES: [string, string][] = [
  [':lower "x" "AbC"', "abc"],
  [':upper "x" "AbC"', "ABC"],
  [':lowerfirst "x" "ABC"', "aBC"],
  [':upperfirst :lower "x" "aBC"', "Abc"],
  [':quotewildcard "x" "a*b?c\\\\"', "a\\*b\\?c\\\\"],
  [':length "x" "héllo"', "5"],
];
for (const [set, want] of VARIABLES) {
  test(`set ${set} → ${want}`, async () => {
    const r = await runs(`require ["variables", "fileinto"]; set ${set}; fileinto "\${x}";`);
    assert.deepEqual(kinds(r), [`fileinto:${want}`]);
  });
}

const DATES: [string, string][] = [
  ['date :originalzone "date" "julian"', "61375"],
  ['date :originalzone "date" "iso8601"', "2026-12-01T09:15:30-05:00"],
  ['date :zone "+0000" "date" "std11"', "Tue, 01 Dec 2026 14:15:30 +0000"],
  ['date :zone "+0530" "date" "time"', "19:45:30"],
  ['date :originalzone "date" "zone"', "-0500"],
  ['currentdate :zone "+0000" "date"', "2026-12-01"],
  ['currentdate :zone "-1200" "weekday"', "2"],
  ['currentdate :zone "+1000" "weekday"', "3"],
];
for (const [t, want] of DATES) {
  test(`${t} is ${want}`, async () => {
    const r = await runs(
      `require ["date", "fileinto"]; if ${t} "${want}" { fileinto "Y"; }`,
      view(HEADER, "x\r\n", { now: NOW }),
    );
    assert.deepEqual(kinds(r), ["fileinto:Y"]);
  });
}

test("a :matches test sets ${1}…; a failed one leaves them", async () => {
  const r = await runs(
    'require ["variables", "fileinto"]; if header :matches "subject" "* there" {} if header :matches "subject" "nomatch*" {} fileinto "${1}";',
  );
  assert.deepEqual(kinds(r), ["fileinto:Hello"]);
});

test("relational with i;ascii-numeric: a value without digits is greater than any number", async () => {
  const r = await runs(
    'require ["relational", "comparator-i;ascii-numeric", "fileinto"]; if header :value "gt" :comparator "i;ascii-numeric" "subject" "99999" { fileinto "Inf"; } if header :value "gt" :comparator "i;ascii-numeric" "x-score" "9" { fileinto "Num"; }',
  );
  assert.deepEqual(kinds(r), ["fileinto:Inf", "fileinto:Num"]);
});

test("the vacation verdict: null sender, automated mail, own address, not addressed, replied, and sent", async () => {
  const r = await runs('require "vacation"; vacation :days 2 :addresses ["alias@example.test"] "away";');
  const a = r.actions.find((x) => x.kind === "vacation");
  assert.ok(a && a.kind === "vacation");
  assert.equal(a.seconds, 2 * 86400);
  assert.equal(a.subject, "Auto: Hello there");
  assert.equal(a.from, "alice@example.test");
  const v = (header: string[], env: Partial<MessageView> = {}) => view(header, "x\r\n", env);
  const to = "To: alice@example.test";
  assert.deepEqual(vacationVerdict(a, v([to]), false), { send: true });
  assert.deepEqual(vacationVerdict(a, v([to]), true), { send: false, why: "replied" });
  assert.deepEqual(vacationVerdict({ ...a, to: "" }, v([to], { envelopeFrom: "" }), false), {
    send: false,
    why: "null sender",
  });
  assert.deepEqual(vacationVerdict(a, v([to, "Precedence: bulk"]), false), { send: false, why: "automated" });
  assert.deepEqual(vacationVerdict(a, v([to, "List-Unsubscribe: <mailto:x@y.test>"]), false), {
    send: false,
    why: "automated",
  });
  assert.deepEqual(vacationVerdict(a, v([to, "Auto-Submitted: auto-generated"]), false), {
    send: false,
    why: "automated",
  });
  assert.deepEqual(vacationVerdict(a, v(["To: someone@else.test"]), false), {
    send: false,
    why: "not addressed",
  });
  assert.deepEqual(vacationVerdict(a, v(["Cc: Alias <alias@example.test>"]), false), { send: true });
  assert.deepEqual(vacationVerdict({ ...a, to: "alias@example.test" }, v([to]), false), {
    send: false,
    why: "own address",
  });
});

test("vacation :handle names the memory key; without it the key follows the parameters", async () => {
  const h = async (src: string) => {
    const a = (await runs(`require "vacation"; ${src}`)).actions.find((x) => x.kind === "vacation");
    return a?.kind === "vacation" ? a.handle : "";
  };
  assert.equal(await h('vacation :handle "trip" "away";'), "trip");
  assert.equal(await h('vacation :subject "S" "away";'), "awayS<default-from><NO-MIME>");
  assert.equal(await h('vacation :from "me@x.test" :mime "away";'), "away<default-subject>me@x.test<MIME>");
});

test("body: :text reads decoded text parts, :raw the undecoded body, :content picks types", async () => {
  const mime = view(
    ['Content-Type: multipart/mixed; boundary="xx"', "Subject: m"],
    "--xx\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGlkZGVuIHdvcmQ=\r\n--xx\r\nContent-Type: application/pdf\r\n\r\nPDFDATA\r\n--xx--\r\n",
  );
  const body = await bodyParts(mime.raw);
  const hit = async (t: string) => {
    const c = compileSieve(`require ["body", "fileinto"]; if body ${t} { fileinto "Y"; }`);
    assert.ok(c.ok);
    return kinds(await runSieve(c.script, mime, { body }))[0] === "fileinto:Y";
  };
  assert.equal(await hit(':text :contains "hidden word"'), true);
  assert.equal(await hit(':raw :contains "hidden word"'), false);
  assert.equal(await hit(':raw :contains "aGlkZGVu"'), true);
  assert.equal(await hit(':content "application" :contains "PDFDATA"'), true);
  assert.equal(await hit(':text :contains "PDFDATA"'), false);
});

test("body: a run without the decoded body is a run-time error, not a silent miss", async () => {
  const r = await runs('require ["body", "fileinto"]; if body :text :contains "x" { fileinto "Y"; }');
  assert.equal(r.error, "body test without the decoded body");
  assert.deepEqual(r.actions, [{ kind: "keep", flags: [], implicit: true }]);
});

test("envelope: the null reverse-path is the empty string and has no parts", async () => {
  const v = view(HEADER, "x\r\n", { envelopeFrom: "" });
  const hit = async (t: string) =>
    kinds(await runs(`require ["envelope", "fileinto"]; if ${t} { fileinto "Y"; }`, v))[0] === "fileinto:Y";
  assert.equal(await hit('envelope :is "from" ""'), true);
  assert.equal(await hit('envelope :domain :matches "from" "*"'), false);
});
