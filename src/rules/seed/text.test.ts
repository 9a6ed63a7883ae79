import { test } from "node:test";
import assert from "node:assert/strict";
import { formatRules, parseRules, RuleTextError } from "./text.js";
import { HIGHEST } from "./model.js";

test("the issue's example parses into one rule with a condition and two actions", () => {
  const rules = parseRules('(1,name,((Subject,is,"*sale*")),(("Store in",Junk),(Discard)))');
  assert.deepEqual(rules, [
    {
      priority: 1,
      name: "name",
      conditions: [{ key: "Subject", op: "is", param: "*sale*" }],
      actions: [
        { key: "Store in", param: "Junk" },
        { key: "Discard", param: "" },
      ],
    },
  ]);
});

test("a rule set round-trips through format and parse, quoting what needs it", () => {
  const text = `((10,"Big one",(("Message Size","greater than",1M),("Human Generated")),(("Reply with","Away\\e\\"now\\""),("Stop Processing"))),
    (0,off,(),()),(5,"x",((From,in,"*@a.test, *@b.test")),(("Remember 'From' in",Replied))))`;
  const rules = parseRules(text);
  assert.equal(rules.length, 3);
  assert.equal(rules[0]!.priority, HIGHEST);
  assert.equal(rules[0]!.actions[0]!.param, 'Away\n"now"');
  assert.deepEqual(rules[0]!.conditions[1], { key: "Human Generated", op: null, param: "" });
  assert.deepEqual(parseRules(formatRules(rules)), rules);
  assert.match(formatRules(rules), /\("Reply with","Away\\e\\"now\\""\)/);
});

test("names are matched without regard to case or spacing; Highest and Current Time are accepted", () => {
  const [r] = parseRules('(Highest,a,(("current   time","GREATER THAN","10:00")),(("store IN",X)))');
  assert.equal(r!.priority, 10);
  assert.deepEqual(r!.conditions[0], { key: "Time Of Day", op: "greater than", param: "10:00" });
  assert.equal(r!.actions[0]!.key, "Store in");
});

const BAD: [string, string, number][] = [
  ["(1,a,((Subject,is,x)),((Discard))", "unexpected end of text", 33],
  ["(11,a,(),())", "bad priority '11'", 1],
  ["(1,a,((Colour,is,red)),())", "unknown condition 'Colour'", 7],
  ["(1,a,((Subject,equals,x)),())", "operator 'equals' not allowed for Subject", 15],
  ['(1,a,(("Message Size",is,10)),())', "operator 'is' not allowed for Message Size", 22],
  ["(1,a,(),((Explode,now)))", "unknown action 'Explode'", 10],
  ['(1,a,(),(("Store in")))', "missing action parameter", 9],
  ['(1,a,(),(("Store in","x)))', "unterminated string", 21],
  ["(1,a,(),()) trailing", "text after the rule set", 12],
  ["(1,a,Subject,())", "conditions must be a list in parentheses", 5],
];
for (const [text, message, offset] of BAD) {
  test(`rejects ${JSON.stringify(text)}: ${message} at ${offset}`, () => {
    assert.throws(
      () => parseRules(text),
      (e: unknown) => e instanceof RuleTextError && e.message.startsWith(message) && e.offset === offset,
    );
  });
}

test("empty text is an empty rule set, and so is ()", () => {
  assert.deepEqual(parseRules("  "), []);
  assert.deepEqual(parseRules("()"), []);
  assert.equal(formatRules([]), "()");
});
