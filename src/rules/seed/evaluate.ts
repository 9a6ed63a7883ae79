// Runs a seed rule set over one message: rules in priority order, a rule applies when all of its
// conditions hold, its actions are appended as values, and Stop Processing ends the run. Pure:
// the message view carries the time and zone; nothing is read or written here. A rule whose
// condition or action cannot be evaluated (a bad size, date or header parameter) is reported in
// `errors` and skipped whole, so a broken rule never half-applies.
import { domainPart } from "../addresses.js";
import { parseAddressList } from "../addresses.js";
import { decodeWords, fieldValues, type MessageView } from "../message.js";
import { isHumanGenerated } from "../human.js";
import { dayMatches, matchesOp, parseDate, parseSize, parseTimeOfDay, pictureList } from "./match.js";
import { activeInOrder, type Condition, type Rule, type RuleAction, type RuleActionSpec } from "./model.js";

export interface RuleError {
  readonly rule: string;
  readonly message: string;
}

export interface Evaluation {
  readonly actions: RuleAction[];
  readonly errors: RuleError[];
  /** The names of the rules that applied, in order. */
  readonly applied: string[];
}

class BrokenRule extends Error {}

export function evaluateRules(rules: readonly Rule[], view: MessageView): Evaluation {
  const actions: RuleAction[] = [];
  const errors: RuleError[] = [];
  const applied: string[] = [];
  for (const rule of activeInOrder(rules)) {
    let produced: RuleAction[];
    let stop = false;
    try {
      if (!rule.conditions.every((c) => holds(c, view))) continue;
      produced = [];
      for (const spec of rule.actions) {
        if (spec.key === "Stop Processing") {
          stop = true;
          break;
        }
        produced.push(toAction(spec, rule.name, view));
      }
    } catch (e) {
      if (!(e instanceof BrokenRule)) throw e;
      errors.push({ rule: rule.name, message: e.message });
      continue;
    }
    applied.push(rule.name);
    actions.push(...produced);
    if (stop) break;
  }
  return { actions, errors, applied };
}

function addressesOf(view: MessageView, ...names: string[]): string[] {
  return names.flatMap((n) => fieldValues(view, n).flatMap((v) => parseAddressList(v).map((a) => a.address)));
}

/** Conditions on a single string; missing (null) meets only the negative operators. */
function testText(c: Condition, text: string | null): boolean {
  const op = c.op as "is" | "is not" | "in" | "not in";
  if (text === null) return op === "is not" || op === "not in";
  return matchesOp(op, c.param, text);
}

function testEach(c: Condition, texts: string[], each: boolean): boolean {
  if (texts.length === 0) return testText(c, null);
  return each ? texts.every((t) => testText(c, t)) : texts.some((t) => testText(c, t));
}

function firstField(view: MessageView, name: string): string | null {
  const v = fieldValues(view, name)[0];
  return v === undefined ? null : decodeWords(v);
}

function compare(c: Condition, actual: number, limit: number | null, what: string): boolean {
  if (limit === null) throw new BrokenRule(`bad ${what} '${c.param}'`);
  return c.op === "greater than" ? actual > limit : actual < limit;
}

function local(view: MessageView): Date {
  return new Date(view.now + view.zoneOffset * 60_000);
}

function holds(c: Condition, view: MessageView): boolean {
  switch (c.key) {
    case "From":
    case "Sender":
    case "To":
    case "Cc":
    case "Reply-To":
    case "Subject":
    case "Message-ID":
      return testText(c, firstField(view, c.key));
    case "Return-Path":
      return testText(c, view.envelopeFrom);
    case "Any To or Cc":
      return testEach(c, addressesOf(view, "To", "Cc"), false);
    case "Each To or Cc":
      return testEach(c, addressesOf(view, "To", "Cc"), true);
    case "Any Recipient":
      return testEach(c, [...view.recipients], false);
    case "Each Recipient":
      return testEach(c, [...view.recipients], true);
    case "Header Field": {
      // "Name: picture" — the picture is matched against each field of that name
      const colon = c.param.indexOf(":");
      if (colon <= 0) throw new BrokenRule(`Header Field wants 'Name: picture', got '${c.param}'`);
      const name = c.param.slice(0, colon).trim();
      const picture = c.param.slice(colon + 1).trim();
      const values = fieldValues(view, name).map(decodeWords);
      const sub: Condition = { ...c, param: picture };
      if (values.length === 0) return testText(sub, null);
      const positive = c.op === "is" || c.op === "in";
      return positive ? values.some((v) => testText(sub, v)) : values.every((v) => testText(sub, v));
    }
    case "Message Size":
      return compare(c, view.size, parseSize(c.param), "size");
    case "Source": {
      // a message has several source names: its queue source, and "authenticated" when it was
      const names = [view.source, ...(view.authenticated ? ["authenticated"] : [])];
      const positive = c.op === "is" || c.op === "in";
      return positive ? names.some((n) => testText(c, n)) : names.every((n) => testText(c, n));
    }
    case "Submit Address":
      return testText(c, view.submitAddress === "" ? null : `[${view.submitAddress}]`);
    case "Human Generated": {
      const human = isHumanGenerated(view);
      return c.op === "is not" ? !human : human;
    }
    case "Current Date":
      return compare(c, view.now, parseDate(c.param, view.zoneOffset), "date");
    case "Current Day": {
      const day = local(view).getUTCDay();
      const pics = c.op === "in" || c.op === "not in" ? pictureList(c.param) : [c.param];
      const hit = pics.some((p) => dayMatches(p, day));
      return c.op === "is" || c.op === "in" ? hit : !hit;
    }
    case "Time Of Day": {
      const d = local(view);
      const secs = d.getUTCHours() * 3600 + d.getUTCMinutes() * 60 + d.getUTCSeconds();
      return compare(c, secs, parseTimeOfDay(c.param), "time of day");
    }
  }
}

const MARKS: Readonly<Record<string, string>> = {
  read: "\\Seen",
  seen: "\\Seen",
  flagged: "\\Flagged",
  deleted: "\\Deleted",
  answered: "\\Answered",
  draft: "\\Draft",
  unread: "-\\Seen",
  unflagged: "-\\Flagged",
  undeleted: "-\\Deleted",
};

function addressList(spec: RuleActionSpec): string[] {
  const to = pictureList(spec.param).map((a) => a.replace(/^<(.*)>$/, "$1"));
  if (to.length === 0 || to.some((a) => !a.includes("@") || domainPart(a) === "")) {
    throw new BrokenRule(`${spec.key} wants a list of addresses, got '${spec.param}'`);
  }
  return to;
}

function toAction(spec: RuleActionSpec, rule: string, view: MessageView): RuleAction {
  switch (spec.key) {
    case "Store in":
      if (spec.param.trim() === "") throw new BrokenRule("Store in wants a folder name");
      return { kind: "store", folder: spec.param.trim(), rule };
    case "Mark": {
      const flags = pictureList(spec.param).map((f) => {
        const flag = MARKS[f.toLowerCase()] ?? (/^\$?[A-Za-z0-9_]+$/.test(f) ? f : null);
        if (flag === null) throw new BrokenRule(`Mark: unknown flag '${f}'`);
        return flag;
      });
      return { kind: "mark", flags, rule };
    }
    case "Add Header": {
      const colon = spec.param.indexOf(":");
      const name = colon > 0 ? spec.param.slice(0, colon).trim() : "";
      if (!/^[!-9;-~]+$/.test(name))
        throw new BrokenRule(`Add Header wants 'Name: value', got '${spec.param}'`);
      return {
        kind: "addHeader",
        name,
        value: spec.param
          .slice(colon + 1)
          .trim()
          .replace(/[\r\n]+/g, " "),
        rule,
      };
    }
    case "Tag Subject":
      return { kind: "tagSubject", tag: spec.param, rule };
    case "Reject with":
      return { kind: "reject", text: spec.param.trim() === "" ? "rejected by a rule" : spec.param, rule };
    case "Discard":
      return { kind: "discard", rule };
    case "Redirect to":
      return { kind: "redirect", to: addressList(spec), rule };
    case "Forward to":
      return { kind: "forward", to: addressList(spec), rule };
    case "Mirror to":
      return { kind: "mirror", to: addressList(spec), rule };
    case "Reply with":
    case "Reply to All with":
      return { kind: "reply", all: spec.key === "Reply to All with", text: spec.param, rule };
    case "Remember 'From' in": {
      const from = addressesOf(view, "From")[0] ?? view.envelopeFrom;
      return { kind: "remember", list: spec.param.trim() || "RepliedAddresses", address: from, rule };
    }
    case "Write To Log":
      return { kind: "log", text: spec.param, rule };
    case "Stop Processing":
      throw new BrokenRule("Stop Processing is not an action value");
  }
}

/** True unless the actions file, discard, reject or redirect/forward the message (Mirror keeps it). */
export function keepsInbox(actions: readonly RuleAction[]): boolean {
  return !actions.some((a) => ["store", "discard", "reject", "redirect", "forward"].includes(a.kind));
}
