// The seed product's rule model: a rule set is a list of (priority, name, conditions, actions).
// Priority 0 is Inactive (kept but never applied), 1…9, and Highest (10); higher runs first and
// rules of one priority keep their written order. Every condition must hold. The vocabulary is
// closed: these tables are what the text form accepts and what the evaluator implements.

export const HIGHEST = 10;
export const INACTIVE = 0;

export const CONDITION_KEYS = [
  "From",
  "Sender",
  "Return-Path",
  "To",
  "Cc",
  "Any To or Cc",
  "Each To or Cc",
  "Reply-To",
  "Subject",
  "Message-ID",
  "Message Size",
  "Header Field",
  "Any Recipient",
  "Each Recipient",
  "Source",
  "Submit Address",
  "Human Generated",
  "Current Date",
  "Current Day",
  "Time Of Day",
] as const;
export type ConditionKey = (typeof CONDITION_KEYS)[number];

export const OPERATORS = ["is", "is not", "in", "not in", "greater than", "less than"] as const;
export type Operator = (typeof OPERATORS)[number];

/** Which operators each condition takes; Human Generated takes none (it is a plain test). */
export const CONDITION_OPERATORS: Readonly<Record<ConditionKey, readonly Operator[]>> = {
  From: ["is", "is not", "in", "not in"],
  Sender: ["is", "is not", "in", "not in"],
  "Return-Path": ["is", "is not", "in", "not in"],
  To: ["is", "is not", "in", "not in"],
  Cc: ["is", "is not", "in", "not in"],
  "Any To or Cc": ["is", "is not", "in", "not in"],
  "Each To or Cc": ["is", "is not", "in", "not in"],
  "Reply-To": ["is", "is not", "in", "not in"],
  Subject: ["is", "is not", "in", "not in"],
  "Message-ID": ["is", "is not", "in", "not in"],
  "Message Size": ["greater than", "less than"],
  "Header Field": ["is", "is not", "in", "not in"],
  "Any Recipient": ["is", "is not", "in", "not in"],
  "Each Recipient": ["is", "is not", "in", "not in"],
  Source: ["is", "is not", "in", "not in"],
  "Submit Address": ["is", "is not", "in", "not in"],
  "Human Generated": [],
  "Current Date": ["greater than", "less than"],
  "Current Day": ["is", "is not", "in", "not in"],
  "Time Of Day": ["greater than", "less than"],
};

export const ACTION_KEYS = [
  "Store in",
  "Mark",
  "Add Header",
  "Tag Subject",
  "Reject with",
  "Discard",
  "Stop Processing",
  "Redirect to",
  "Forward to",
  "Mirror to",
  "Reply with",
  "Reply to All with",
  "Remember 'From' in",
  "Write To Log",
] as const;
export type ActionKey = (typeof ACTION_KEYS)[number];

/** Actions written without a parameter. */
export const BARE_ACTIONS: readonly ActionKey[] = ["Discard", "Stop Processing"];

export interface Condition {
  readonly key: ConditionKey;
  /** null only for Human Generated. */
  readonly op: Operator | null;
  readonly param: string;
}

export interface RuleActionSpec {
  readonly key: ActionKey;
  readonly param: string;
}

export interface Rule {
  /** 0 (Inactive) … 9, 10 = Highest. */
  readonly priority: number;
  readonly name: string;
  readonly conditions: readonly Condition[];
  readonly actions: readonly RuleActionSpec[];
}

/** What evaluating a rule set asks the caller to do; values only, the caller performs them. */
export type RuleAction =
  | { readonly kind: "store"; readonly folder: string; readonly rule: string }
  | { readonly kind: "mark"; readonly flags: readonly string[]; readonly rule: string }
  | { readonly kind: "addHeader"; readonly name: string; readonly value: string; readonly rule: string }
  | { readonly kind: "tagSubject"; readonly tag: string; readonly rule: string }
  | { readonly kind: "reject"; readonly text: string; readonly rule: string }
  | { readonly kind: "discard"; readonly rule: string }
  | { readonly kind: "redirect"; readonly to: readonly string[]; readonly rule: string }
  | { readonly kind: "forward"; readonly to: readonly string[]; readonly rule: string }
  | { readonly kind: "mirror"; readonly to: readonly string[]; readonly rule: string }
  | { readonly kind: "reply"; readonly all: boolean; readonly text: string; readonly rule: string }
  | { readonly kind: "remember"; readonly list: string; readonly address: string; readonly rule: string }
  | { readonly kind: "log"; readonly text: string; readonly rule: string };

/** Higher priority first; equal priorities keep their order; Inactive rules are dropped. */
export function activeInOrder(rules: readonly Rule[]): Rule[] {
  return rules
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.priority > INACTIVE)
    .sort((a, b) => b.r.priority - a.r.priority || a.i - b.i)
    .map(({ r }) => r);
}
