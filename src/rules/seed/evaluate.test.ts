// Table-driven: every condition with each of its operators, every action, priority order, Stop
// Processing and broken rules. Each case is one rule text and one message; the expectation is
// whether the rule applied (its Write To Log action came out) or the exact action values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRules } from "./text.js";
import { evaluateRules, keepsInbox } from "./evaluate.js";
import { CONDITION_KEYS, ACTION_KEYS } from "./model.js";
import { view, NOW } from "../../../test/kit/message-view.js";

const HEADER = [
  'From: "Bob Example" <bob@remote.test>',
  "Sender: list-bounces@lists.test",
  "To: alice@example.test, Carol <carol@example.test>",
  "Cc: dave@other.test",
  "Reply-To: replies@remote.test",
  "Subject: =?UTF-8?Q?Big_sale_=E2=82=AC?= today",
  "Message-ID: <abc.123@remote.test>",
  "X-Spam-Flag: YES",
  "X-Mailer: Mutt 2.2",
];
const msg = view(HEADER, "Body text\r\n", {
  recipients: ["alice@example.test", "carol@example.test"],
});

type Row = [condition: string, expected: boolean];
const CONDITIONS: Row[] = [
  ['(From,is,"*@remote.test*")', true],
  ['(From,is,"*@else.test*")', false],
  ['(From,"is not","*@else.test*")', true],
  ['(From,in,"*@a.test*, *bob@*")', true],
  ['(From,"not in","*@a.test*, *bob@*")', false],
  ['(Sender,is,"list-bounces@*")', true],
  ['(Sender,"is not","list-bounces@*")', false],
  ['(Return-Path,is,"sender@remote.test")', true],
  ['(Return-Path,in,"x@y.test,*@remote.test")', true],
  ['(To,is,"*carol@example.test*")', true],
  ['(To,"not in","*carol*,*zed*")', false],
  ['(Cc,is,"dave@other.test")', true],
  ['(Cc,"is not","dave@other.test")', false],
  ['("Any To or Cc",is,"dave@*")', true],
  ['("Any To or Cc","is not","dave@*")', true],
  ['("Each To or Cc",is,"*@example.test")', false],
  ['("Each To or Cc",in,"*@example.test,*@other.test")', true],
  ['("Each To or Cc","not in","*@nowhere.test")', true],
  ['(Reply-To,is,"replies@remote.test")', true],
  ['(Reply-To,"is not","replies@remote.test")', false],
  ['(Subject,is,"*sale €*")', true],
  ['(Subject,is,"big sale")', false],
  ['(Subject,in,"*SALE*,*offer*")', true],
  ['(Subject,"not in","*offer*,*free*")', true],
  ['(Message-ID,is,"<*@remote.test>")', true],
  ['(Message-ID,"is not","<*@remote.test>")', false],
  ['("Message Size","greater than",100)', true],
  ['("Message Size","less than",1K)', true],
  ['("Message Size","greater than",1M)', false],
  ['("Header Field",is,"X-Spam-Flag: YES")', true],
  ['("Header Field",is,"X-Spam-Flag: NO")', false],
  ['("Header Field","is not","X-Missing: *")', true],
  ['("Header Field",in,"X-Mailer: *Outlook*, *Mutt*")', true],
  ['("Header Field","not in","X-Mailer: *Outlook*, *Mutt*")', false],
  ['("Any Recipient",is,"carol@*")', true],
  ['("Any Recipient","not in","carol@*,alice@*")', false],
  ['("Each Recipient",is,"*@example.test")', true],
  ['("Each Recipient","is not","alice@*")', false],
  ["(Source,is,smtp)", true],
  ['(Source,in,"submission,authenticated")', false],
  ['(Source,"is not",smtp)', false],
  ['(Source,"not in","api,pipe")', true],
  ['("Submit Address",is,"[192.0.2.*]")', true],
  ['("Submit Address","not in","[192.0.2.7],[10.*]")', false],
  ['("Human Generated")', true], // its own table below
  ['("Current Date","greater than","2026-11-30")', true],
  ['("Current Date","less than","1 Dec 2026 14:00")', false],
  ['("Current Day",is,Tue)', true],
  ['("Current Day","is not",Tuesday)', false],
  ['("Current Day",in,"Sat,Sun")', false],
  ['("Current Day","not in","Sat,Sun")', true],
  ['("Time Of Day","greater than","14:00")', true],
  ['("Time Of Day","less than","09:00")', false],
];

// The message above comes from a mailing-list bounce address in Sender, but Human Generated
// looks at the envelope and the header's automation marks: give it its own small table.
const human = [
  { env: "sender@remote.test", header: ["Subject: hi"], human: true },
  { env: "", header: ["Subject: hi"], human: false },
  { env: "MAILER-DAEMON@remote.test", header: ["Subject: hi"], human: false },
  { env: "a@remote.test", header: ["Auto-Submitted: auto-replied"], human: false },
  { env: "a@remote.test", header: ["Auto-Submitted: no"], human: true },
  { env: "a@remote.test", header: ["Precedence: bulk"], human: false },
  { env: "a@remote.test", header: ["List-Id: <l.remote.test>"], human: false },
];

const rule = (cond: string) => `(5,r,(${cond}),(("Write To Log",hit)))`;

for (const [cond, expected] of CONDITIONS) {
  if (cond.includes("Human Generated")) continue;
  test(`condition ${cond} → ${expected}`, () => {
    const r = evaluateRules(parseRules(rule(cond)), msg);
    assert.deepEqual(r.errors, []);
    assert.equal(r.applied.length === 1, expected);
  });
}

for (const h of human) {
  test(`Human Generated: <${h.env}> ${h.header.join(" ")} → ${h.human}`, () => {
    const v = view(h.header, "x\r\n", { envelopeFrom: h.env });
    assert.equal(evaluateRules(parseRules(rule('("Human Generated")')), v).applied.length === 1, h.human);
    assert.equal(
      evaluateRules(parseRules(rule('("Human Generated","is not","")')), v).applied.length === 1,
      !h.human,
    );
  });
}

test("every condition key and every operator appears in the table", () => {
  const text = CONDITIONS.map(([c]) => c).join(" ");
  for (const k of CONDITION_KEYS) assert.ok(text.includes(`(${k},`) || text.includes(`("${k}"`), k);
  for (const op of ['"is not"', "in,", '"not in"', '"greater than"', '"less than"', "is,"])
    assert.ok(text.includes(op), op);
});

test("a missing header field meets only is not / not in", () => {
  const bare = view(["Subject: x"]);
  const hit = (c: string) => evaluateRules(parseRules(rule(c)), bare).applied.length === 1;
  assert.equal(hit('(Cc,is,"*")'), false);
  assert.equal(hit('(Cc,in,"*")'), false);
  assert.equal(hit('(Cc,"is not","*")'), true);
  assert.equal(hit('(Cc,"not in","a,b")'), true);
});

const ACTIONS: [string, unknown][] = [
  ['("Store in",Junk)', { kind: "store", folder: "Junk" }],
  ['(Mark,"Read,Flagged,$Label1")', { kind: "mark", flags: ["\\Seen", "\\Flagged", "$Label1"] }],
  ["(Mark,Unread)", { kind: "mark", flags: ["-\\Seen"] }],
  ['("Add Header","X-Rule: matched")', { kind: "addHeader", name: "X-Rule", value: "matched" }],
  ['("Tag Subject","[SALE]")', { kind: "tagSubject", tag: "[SALE]" }],
  ['("Reject with","no sales please")', { kind: "reject", text: "no sales please" }],
  ["(Discard)", { kind: "discard" }],
  ['("Redirect to","a@x.test, <b@y.test>")', { kind: "redirect", to: ["a@x.test", "b@y.test"] }],
  ['("Forward to",c@x.test)', { kind: "forward", to: ["c@x.test"] }],
  ['("Mirror to",archive@x.test)', { kind: "mirror", to: ["archive@x.test"] }],
  ['("Reply with","Got it")', { kind: "reply", all: false, text: "Got it" }],
  ['("Reply to All with","Got it, all")', { kind: "reply", all: true, text: "Got it, all" }],
  ["(\"Remember 'From' in\",Replied)", { kind: "remember", list: "Replied", address: "bob@remote.test" }],
  ['("Write To Log","sale seen")', { kind: "log", text: "sale seen" }],
];

for (const [action, expected] of ACTIONS) {
  test(`action ${action}`, () => {
    const r = evaluateRules(parseRules(`(1,a,(),(${action}))`), msg);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.actions, [{ ...(expected as object), rule: "a" }]);
  });
}

test("every action key appears in the table (Stop Processing below)", () => {
  const text = ACTIONS.map(([a]) => a).join(" ");
  for (const k of ACTION_KEYS) if (k !== "Stop Processing") assert.ok(text.includes(k), k);
});

test("priority order: Highest, then 9…1, equal priorities in written order, Inactive never", () => {
  const rules = parseRules(`(
    (1,low,(),(("Write To Log",low))),
    (0,off,(),(("Write To Log",off))),
    (Highest,top,(),(("Write To Log",top))),
    (5,mid1,(),(("Write To Log",mid1))),
    (9,nine,(),(("Write To Log",nine))),
    (5,mid2,(),(("Write To Log",mid2)))
  )`);
  const r = evaluateRules(rules, msg);
  assert.deepEqual(r.applied, ["top", "nine", "mid1", "mid2", "low"]);
});

test("Stop Processing ends the run after the actions before it; later rules do not apply", () => {
  const rules = parseRules(`(
    (7,first,((Subject,is,"*sale*")),(("Store in",Junk),("Stop Processing"),("Write To Log",never))),
    (3,second,(),(("Write To Log",second)))
  )`);
  const r = evaluateRules(rules, msg);
  assert.deepEqual(r.applied, ["first"]);
  assert.deepEqual(r.actions, [{ kind: "store", folder: "Junk", rule: "first" }]);
});

test("a rule whose conditions do not all hold does nothing", () => {
  const r = evaluateRules(
    parseRules('(5,a,((Subject,is,"*sale*"),(From,is,"*@else.test*")),((Discard)))'),
    msg,
  );
  assert.deepEqual(r.actions, []);
});

test("a broken rule is reported and skipped whole; the others still run", () => {
  const rules = parseRules(`(
    (9,bad-size,(("Message Size","greater than",lots)),((Discard))),
    (8,bad-redirect,(),(("Write To Log",before),("Redirect to",nobody))),
    (7,good,(),(("Write To Log",ok)))
  )`);
  const r = evaluateRules(rules, msg);
  assert.deepEqual(r.errors, [
    { rule: "bad-size", message: "bad size 'lots'" },
    { rule: "bad-redirect", message: "Redirect to wants a list of addresses, got 'nobody'" },
  ]);
  assert.deepEqual(r.actions, [{ kind: "log", text: "ok", rule: "good" }]);
});

test("Current Day and Time Of Day follow the view's zone", () => {
  // 14:30 UTC on Tuesday is 00:30 Wednesday at +10:00
  const east = view(["Subject: x"], "x\r\n", { now: NOW, zoneOffset: 600 });
  const hit = (c: string) => evaluateRules(parseRules(rule(c)), east).applied.length === 1;
  assert.equal(hit('("Current Day",is,Wed)'), true);
  assert.equal(hit('("Time Of Day","less than","01:00")'), true);
});

test("keepsInbox: Store in, Discard, Reject, Redirect and Forward cancel INBOX; Mirror and Mark do not", () => {
  const acts = (a: string) => evaluateRules(parseRules(`(1,a,(),(${a}))`), msg).actions;
  assert.equal(keepsInbox(acts('("Store in",X)')), false);
  assert.equal(keepsInbox(acts("(Discard)")), false);
  assert.equal(keepsInbox(acts('("Reject with",no)')), false);
  assert.equal(keepsInbox(acts('("Redirect to",a@b.test)')), false);
  assert.equal(keepsInbox(acts('("Forward to",a@b.test)')), false);
  assert.equal(keepsInbox(acts('("Mirror to",a@b.test)')), true);
  assert.equal(keepsInbox(acts("(Mark,Read)")), true);
});
