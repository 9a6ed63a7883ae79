// The seed product's text form of rules: nested arrays in parentheses, elements separated by
// commas, each element an atom (letters, digits and . - _ @ ! # $ % & * + / = ? ^ ` { | } ~ ' [ ]
// and non-ASCII) or a quoted string ("…" with \" \\ \e for a line end, \r \n \t, \NNN decimal).
// A rule is (priority,name,(conditions),(actions)); a condition (key,operator,param), or (key) for
// Human Generated; an action (key,param), or (key) for Discard and Stop Processing.
// A rule set is an array of rules; a single rule is accepted on import too.
// Input comes from users: every error names its offset, and nothing here throws past parse().
import {
  ACTION_KEYS,
  BARE_ACTIONS,
  CONDITION_KEYS,
  CONDITION_OPERATORS,
  HIGHEST,
  OPERATORS,
  type ActionKey,
  type Condition,
  type ConditionKey,
  type Operator,
  type Rule,
  type RuleActionSpec,
} from "./model.js";

type Node =
  { kind: "atom"; text: string; at: number; quoted: boolean } | { kind: "list"; items: Node[]; at: number };

export class RuleTextError extends Error {
  constructor(
    /** What is wrong, without where. */
    readonly reason: string,
    /** Where, in UTF-16 code units from the start of the text. */
    readonly offset: number,
  ) {
    super(`${reason} at offset ${offset}`);
  }
}

/** 1-based line and column of an offset in a text, as editors and FILE:LINE:COLUMN messages count. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}

const MAX_DEPTH = 8;
const MAX_TEXT = 1 << 20;

function readNode(src: string, start: number, depth: number): { node: Node; end: number } {
  let i = skipWs(src, start);
  if (i >= src.length) throw new RuleTextError("unexpected end of text", i);
  const c = src[i]!;
  if (c === "(") {
    if (depth >= MAX_DEPTH) throw new RuleTextError("nested too deeply", i);
    const items: Node[] = [];
    const at = i;
    i = skipWs(src, i + 1);
    if (src[i] === ")") return { node: { kind: "list", items, at }, end: i + 1 };
    for (;;) {
      const r = readNode(src, i, depth + 1);
      items.push(r.node);
      i = skipWs(src, r.end);
      if (src[i] === ",") i++;
      else if (src[i] === ")") return { node: { kind: "list", items, at }, end: i + 1 };
      else throw new RuleTextError(i >= src.length ? "unexpected end of text" : "expected ',' or ')'", i);
    }
  }
  if (c === '"') return readQuoted(src, i);
  const m = /^[^\s(),"]+/.exec(src.slice(i, i + 4096));
  if (!m) throw new RuleTextError(`unexpected '${c}'`, i);
  return { node: { kind: "atom", text: m[0], at: i, quoted: false }, end: i + m[0].length };
}

function readQuoted(src: string, start: number): { node: Node; end: number } {
  let out = "";
  for (let i = start + 1; i < src.length; i++) {
    const c = src[i]!;
    if (c === '"') return { node: { kind: "atom", text: out, at: start, quoted: true }, end: i + 1 };
    if (c === "\\") {
      const n = src[i + 1];
      if (n === undefined) break;
      i++;
      if (n === "e") out += "\n";
      else if (n === "n") out += "\n";
      else if (n === "r") out += "\r";
      else if (n === "t") out += "\t";
      else if (/[0-9]/.test(n) && /^[0-9]{3}$/.test(src.slice(i, i + 3))) {
        out += String.fromCharCode(parseInt(src.slice(i, i + 3), 10));
        i += 2;
      } else out += n;
    } else out += c;
  }
  throw new RuleTextError("unterminated string", start);
}

function skipWs(src: string, i: number): number {
  while (i < src.length && /\s/.test(src[i]!)) i++;
  return i;
}

function atom(n: Node | undefined, what: string, at: number): string {
  if (!n) throw new RuleTextError(`missing ${what}`, at);
  if (n.kind !== "atom") throw new RuleTextError(`${what} must be a string`, n.at);
  return n.text;
}

function list(n: Node | undefined, what: string, at: number): Node[] {
  if (!n) throw new RuleTextError(`missing ${what}`, at);
  if (n.kind !== "list") throw new RuleTextError(`${what} must be a list in parentheses`, n.at);
  return n.items;
}

function pick<T extends string>(names: readonly T[], text: string): T | undefined {
  const t = text.toLowerCase().replace(/\s+/g, " ");
  // The seed writes "Current Time" for Time Of Day in some versions; accept both spellings.
  if (t === "current time") return names.find((n) => n === "Time Of Day");
  return names.find((n) => n.toLowerCase() === t);
}

function toRule(n: Node): Rule {
  const items = list(n, "rule", n.at);
  const pText = atom(items[0], "priority", n.at);
  const priority = /^highest$/i.test(pText) ? HIGHEST : /^inactive$/i.test(pText) ? 0 : Number(pText);
  if (!Number.isInteger(priority) || priority < 0 || priority > HIGHEST) {
    throw new RuleTextError(`bad priority '${pText}' (0-10, Inactive or Highest)`, items[0]!.at);
  }
  const name = atom(items[1], "rule name", n.at);
  const conditions = list(items[2] ?? { kind: "list", items: [], at: n.at }, "conditions", n.at).map(
    toCondition,
  );
  const actions = list(items[3] ?? { kind: "list", items: [], at: n.at }, "actions", n.at).map(toAction);
  if (items.length > 4) throw new RuleTextError("a rule has four elements", items[4]!.at);
  return { priority, name, conditions, actions };
}

function toCondition(n: Node): Condition {
  const items = list(n, "condition", n.at);
  const keyText = atom(items[0], "condition name", n.at);
  const key: ConditionKey | undefined = pick(CONDITION_KEYS, keyText);
  if (!key) throw new RuleTextError(`unknown condition '${keyText}'`, items[0]!.at);
  const allowed = CONDITION_OPERATORS[key];
  if (allowed.length === 0) {
    // Human Generated: (key), or (key,is|is not,"") as some exports write it
    const opText = items[1] ? atom(items[1], "operator", n.at) : "";
    if (opText === "" || /^is$/i.test(opText)) return { key, op: null, param: "" };
    if (/^is not$/i.test(opText.replace(/\s+/g, " "))) return { key, op: "is not", param: "" };
    throw new RuleTextError(`operator '${opText}' not allowed for ${key}`, items[1]!.at);
  }
  const opText = atom(items[1], "operator", n.at);
  const op: Operator | undefined = pick(OPERATORS, opText);
  if (!op || !allowed.includes(op))
    throw new RuleTextError(`operator '${opText}' not allowed for ${key}`, items[1]!.at);
  const param = atom(items[2], "condition parameter", n.at);
  if (items.length > 3) throw new RuleTextError("a condition has three elements", items[3]!.at);
  return { key, op, param };
}

function toAction(n: Node): RuleActionSpec {
  const items = list(n, "action", n.at);
  const keyText = atom(items[0], "action name", n.at);
  const key: ActionKey | undefined = pick(ACTION_KEYS, keyText);
  if (!key) throw new RuleTextError(`unknown action '${keyText}'`, items[0]!.at);
  if (BARE_ACTIONS.includes(key)) {
    if (items.length > 2) throw new RuleTextError(`${key} takes no parameter`, items[2]!.at);
    return { key, param: items[1] ? atom(items[1], "action parameter", n.at) : "" };
  }
  const param = atom(items[1], "action parameter", n.at);
  if (items.length > 2) throw new RuleTextError("an action has two elements", items[2]!.at);
  return { key, param };
}

/** Parses a rule set (or a single rule). Throws RuleTextError with the offset of the problem. */
export function parseRules(text: string): Rule[] {
  if (text.length > MAX_TEXT) throw new RuleTextError("rule text too long", MAX_TEXT);
  if (text.trim() === "") return [];
  const { node, end } = readNode(text, 0, 0);
  const rest = skipWs(text, end);
  if (rest < text.length) throw new RuleTextError("text after the rule set", rest);
  if (node.kind !== "list") throw new RuleTextError("a rule set is a list in parentheses", node.at);
  // A single rule starts with its priority; a set starts with a rule (a list) or is empty.
  if (node.items[0]?.kind === "atom") return [toRule(node)];
  return node.items.map(toRule);
}

// What export writes bare; anything else is quoted (import accepts more, see the header).
const ATOM = /^[A-Za-z0-9._@\-\u0080-\uffff]+$/;

export function quote(s: string): string {
  if (ATOM.test(s)) return s;
  return (
    '"' +
    s.replace(/[\\"\r\n\t]/g, (c) =>
      c === "\n" ? "\\e" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : "\\" + c,
    ) +
    '"'
  );
}

export function formatRule(r: Rule): string {
  const conds = r.conditions.map((c) =>
    c.op === null ? `(${quote(c.key)})` : `(${quote(c.key)},${quote(c.op)},${quote(c.param)})`,
  );
  const acts = r.actions.map((a) =>
    BARE_ACTIONS.includes(a.key) && a.param === ""
      ? `(${quote(a.key)})`
      : `(${quote(a.key)},${quote(a.param)})`,
  );
  return `(${r.priority},${quote(r.name)},(${conds.join(",")}),(${acts.join(",")}))`;
}

/** The text form of a rule set: one rule per line inside the outer parentheses. */
export function formatRules(rules: readonly Rule[]): string {
  if (rules.length === 0) return "()";
  return "(\n" + rules.map((r) => "  " + formatRule(r)).join(",\n") + "\n)";
}
