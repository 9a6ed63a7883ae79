// Sieve matching (RFC 5228 §2.7): comparators i;octet, i;ascii-casemap (RFC 4790) and
// i;ascii-numeric, match types :is / :contains / :matches (with * ? and \ escapes, capturing
// what each wildcard matched for ${1}…, RFC 5229 §3.2), :regex (draft-ietf-sieve-regex; POSIX
// extended syntax run as a JavaScript RegExp, which accepts the common subset) and the relational
// :value / :count (RFC 5231). Wildcards and substrings are matched in wildcard.ts, in linear
// time; :regex runs in a worker thread.
import type { WorkMeter } from "./meter.js";
import { execRegex } from "./regex-runner.js";
import { containsMatch, wildcardMatch } from "./wildcard.js";

export type MatchType =
  | { readonly kind: "is" | "contains" | "matches" | "regex" }
  | { readonly kind: "value" | "count"; readonly relation: string };

export interface Matcher {
  readonly type: MatchType;
  readonly comparator: string;
}

/** The result of matching: whether it matched and, for :matches/:regex, the captured groups. */
export interface MatchResult {
  readonly matched: boolean;
  readonly captures: readonly string[] | null;
}

// RFC 4790 maps a-z to A-Z; Pigeonhole maps A-Z to a-z, which orders "[" and "_" differently
// against letters under :value. Mailyard follows Pigeonhole so that scripts behave the same.
const casemap = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

function fold(comparator: string, s: string): string {
  return comparator === "i;ascii-casemap" ? casemap(s) : s;
}

/** i;ascii-numeric: the leading digits as a number; no digits is positive infinity (RFC 4790 §9.1). */
function numeric(s: string): number {
  const m = /^[0-9]+/.exec(s);
  return m ? Number(m[0]) : Infinity;
}

export function relate(relation: string, cmp: number): boolean {
  switch (relation) {
    case "gt":
      return cmp > 0;
    case "ge":
      return cmp >= 0;
    case "lt":
      return cmp < 0;
    case "le":
      return cmp <= 0;
    case "eq":
      return cmp === 0;
    case "ne":
      return cmp !== 0;
    default:
      return false;
  }
}

function order(comparator: string, a: string, b: string): number {
  if (comparator === "i;ascii-numeric") {
    const x = numeric(a);
    const y = numeric(b);
    return x === y ? 0 : x < y ? -1 : 1;
  }
  const x = fold(comparator, a);
  const y = fold(comparator, b);
  return x === y ? 0 : x < y ? -1 : 1;
}

/** A :regex pattern that cannot be compiled (from a variable: a run-time error, RFC 5228 §2.10.6). */
export class BadRegex extends Error {}

/**
 * Matches the values against the keys (any value against any key). For :count the number of
 * values is compared with each key. Captures come from the first successful :matches/:regex.
 * Every step is counted on the meter (meter.ts): the caller's run pauses between slices and
 * stops with WorkLimit past its budget; :regex runs in a worker thread (regex-runner.ts).
 */
export async function matchValues(
  m: Matcher,
  values: readonly string[],
  keys: readonly string[],
  meter: WorkMeter,
): Promise<MatchResult> {
  const t = m.type;
  if (t.kind === "count") {
    const n = String(values.length);
    return { matched: keys.some((k) => relate(t.relation, order("i;ascii-numeric", n, k))), captures: null };
  }
  const folds = m.comparator === "i;ascii-casemap";
  if (t.kind === "regex") {
    for (const k of keys) {
      // the values are copied to the worker: that copy is work too
      meter.charge(values.reduce((n, v) => n + v.length, 0));
      await meter.pause();
      const a = await execRegex({ pattern: k, flags: folds ? "is" : "s", values });
      if ("error" in a) throw new BadRegex(a.error);
      if (a.captures) return { matched: true, captures: a.captures };
    }
    return { matched: false, captures: null };
  }
  for (const v of values) {
    for (const k of keys) {
      await meter.pause();
      switch (t.kind) {
        case "is":
          meter.charge(k.length);
          if (
            m.comparator === "i;ascii-numeric"
              ? order(m.comparator, numericPrefix(v, meter), k) === 0
              : v.length === k.length && fold(m.comparator, v) === fold(m.comparator, k)
          ) {
            return { matched: true, captures: null };
          }
          break;
        case "contains":
          if (await containsMatch(v, k, folds, meter)) return { matched: true, captures: null };
          break;
        case "matches": {
          const caps = await wildcardMatch(k, v, folds, meter);
          if (caps) return { matched: true, captures: caps };
          break;
        }
        case "value": {
          // the order of two strings is settled within the shorter one's length plus one
          meter.charge(k.length);
          const a = m.comparator === "i;ascii-numeric" ? numericPrefix(v, meter) : v.slice(0, k.length + 1);
          if (relate(t.relation, order(m.comparator, a, k))) return { matched: true, captures: null };
          break;
        }
      }
    }
  }
  return { matched: false, captures: null };
}

/** The leading digits of v (all that i;ascii-numeric reads), counted on the meter. */
function numericPrefix(v: string, meter: WorkMeter): string {
  meter.charge(v.length);
  return /^[0-9]*/.exec(v)![0] || v.slice(0, 1);
}

/** Address parts (RFC 5228 §2.7.4, subaddress RFC 5233 with "+" as the separator). null = no such part. */
export function addressPart(part: string, address: string): string | null {
  const at = address.lastIndexOf("@");
  const local = at < 0 ? address : address.slice(0, at);
  const domain = at < 0 ? "" : address.slice(at + 1);
  switch (part) {
    case "localpart":
      return local;
    case "domain":
      return domain;
    case "user": {
      const plus = local.indexOf("+");
      return plus < 0 ? local : local.slice(0, plus);
    }
    case "detail": {
      const plus = local.indexOf("+");
      return plus < 0 ? null : local.slice(plus + 1);
    }
    default:
      return address;
  }
}
