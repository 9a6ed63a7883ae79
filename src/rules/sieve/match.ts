// Sieve matching (RFC 5228 §2.7): comparators i;octet, i;ascii-casemap (RFC 4790) and
// i;ascii-numeric, match types :is / :contains / :matches (with * ? and \ escapes, capturing
// what each wildcard matched for ${1}…, RFC 5229 §3.2), :regex (draft-ietf-sieve-regex; POSIX
// extended syntax run as a JavaScript RegExp, which accepts the common subset) and the relational
// :value / :count (RFC 5231).

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

/** Wildcard match with captures: * any run, ? one character, \ quotes the next character. */
export function globMatch(pattern: string, text: string, comparator: string): string[] | null {
  const p = [...fold(comparator, pattern)];
  const t = [...text];
  const tf = [...fold(comparator, text)];
  // Backtracking over * with memo of (pi, ti) failures keeps it polynomial.
  const failed = new Set<number>();
  const caps: string[] = [];
  const go = (pi: number, ti: number): boolean => {
    const key = pi * (t.length + 1) + ti;
    if (failed.has(key)) return false;
    if (pi === p.length) {
      if (ti === t.length) return true;
      failed.add(key);
      return false;
    }
    const c = p[pi]!;
    if (c === "*") {
      for (let k = ti; k <= t.length; k++) {
        caps.push(t.slice(ti, k).join(""));
        if (go(pi + 1, k)) return true;
        caps.pop();
      }
    } else if (c === "?") {
      if (ti < t.length) {
        caps.push(t[ti]!);
        if (go(pi + 1, ti + 1)) return true;
        caps.pop();
      }
    } else {
      let lit = c;
      let step = 1;
      if (c === "\\" && pi + 1 < p.length) {
        lit = p[pi + 1]!;
        step = 2;
      }
      if (ti < t.length && tf[ti] === lit && go(pi + step, ti + 1)) return true;
    }
    failed.add(key);
    return false;
  };
  return go(0, 0) ? [text, ...caps] : null;
}

const regexCache = new Map<string, RegExp>();

function regexFor(pattern: string, comparator: string): RegExp {
  const key = comparator + "\0" + pattern;
  let r = regexCache.get(key);
  if (!r) {
    r = new RegExp(pattern, comparator === "i;ascii-casemap" ? "is" : "s");
    if (regexCache.size > 256) regexCache.clear();
    regexCache.set(key, r);
  }
  return r;
}

/**
 * Matches the values against the keys (any value against any key). For :count the number of
 * values is compared with each key. Captures come from the first successful :matches/:regex.
 */
export function matchValues(m: Matcher, values: readonly string[], keys: readonly string[]): MatchResult {
  const t = m.type;
  if (t.kind === "count") {
    const n = String(values.length);
    return { matched: keys.some((k) => relate(t.relation, order("i;ascii-numeric", n, k))), captures: null };
  }
  for (const v of values) {
    for (const k of keys) {
      switch (t.kind) {
        case "is":
          if (
            m.comparator === "i;ascii-numeric"
              ? order(m.comparator, v, k) === 0
              : fold(m.comparator, v) === fold(m.comparator, k)
          ) {
            return { matched: true, captures: null };
          }
          break;
        case "contains":
          if (fold(m.comparator, v).includes(fold(m.comparator, k))) return { matched: true, captures: null };
          break;
        case "matches": {
          const caps = globMatch(k, v, m.comparator);
          if (caps) return { matched: true, captures: caps };
          break;
        }
        case "regex": {
          const r = regexFor(k, m.comparator).exec(v);
          if (r) return { matched: true, captures: r.map((x) => x ?? "") };
          break;
        }
        case "value":
          if (relate(t.relation, order(m.comparator, v, k))) return { matched: true, captures: null };
          break;
      }
    }
  }
  return { matched: false, captures: null };
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
