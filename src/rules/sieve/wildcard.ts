// Sieve wildcard matching without backtracking: ":matches" (RFC 5228 §2.7.1: "*" any run, "?" one
// character, "\" quotes the next character) with the match variables of RFC 5229 §3.2, and the
// substring search of ":contains". Text is untrusted and up to a whole header or body long, so
// the work is O(n·⌈m/32⌉ + m) for text length n and pattern length m, counted on the run's meter.
//
// How: the pattern is the segments between its stars, S0 * S1 * … * Sk, each a fixed number of
// characters ("?" or literal). S0 must sit at the start and Sk at the end; each middle segment is
// then placed at its leftmost occurrence after the one before (a bit-parallel Shift-And scan,
// which handles "?" and needs no backtracking). Leftmost placement is exact: a segment that ends
// earlier can only leave more room for the rest, which starts with a star. It is also the
// semantics the match variables need: each "*" takes as little as it can, the leftmost first,
// as the backtracking matcher this replaces did and Pigeonhole does ("[*] *" on
// "[acme-users] [fwd] version 1.0 is out" gives ${1} = "acme-users").
//
// Characters are Unicode code points ("?" takes a whole surrogate pair); i;ascii-casemap folds
// A-Z only (RFC 4790 §9.2), which never changes a string's length.
import type { WorkMeter } from "./meter.js";

/** A segment element that is "?" (any one character). */
const ANY = -1;
/** Steps between two meter checks inside a scan. */
const CHECK = 4096;

type Segment = readonly number[];

const foldCp = (c: number, fold: boolean): number => (fold && c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

function compile(pattern: string, fold: boolean): Segment[] {
  const segs: number[][] = [[]];
  const cps = [...pattern];
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i]!;
    const seg = segs[segs.length - 1]!;
    if (c === "*") segs.push([]);
    else if (c === "?") seg.push(ANY);
    else {
      // a backslash quotes the next character; a trailing one stands for itself
      const lit = c === "\\" && i + 1 < cps.length ? cps[++i]! : c;
      seg.push(foldCp(lit.codePointAt(0)!, fold));
    }
  }
  return segs;
}

const width = (cp: number): number => (cp > 0xffff ? 2 : 1);

/** The end (in UTF-16 units) of `seg` matched at unit offset `at`, or -1. */
function matchAt(text: string, seg: Segment, at: number, fold: boolean, meter: WorkMeter): number {
  meter.charge(seg.length);
  let i = at;
  for (const want of seg) {
    if (i >= text.length) return -1;
    const cp = text.codePointAt(i)!;
    if (want !== ANY && foldCp(cp, fold) !== want) return -1;
    i += width(cp);
  }
  return i;
}

/** Unit offset where the last `n` code points of text start, or -1 when it has fewer. */
function startOfLast(text: string, n: number): number {
  let i = text.length;
  for (let k = 0; k < n; k++) {
    if (i <= 0) return -1;
    const lo = text.charCodeAt(i - 1);
    const pair = lo >= 0xdc00 && lo <= 0xdfff && i >= 2 && (text.charCodeAt(i - 2) & 0xfc00) === 0xd800;
    i -= pair ? 2 : 1;
  }
  return i;
}

/**
 * Leftmost occurrence of `seg` (at least one element) starting at or after `from` and ending at
 * or before `limit`: its start offset, or -1. Shift-And: bit j of the state says the last j+1
 * characters match the first j+1 of the segment; a whole word of the state per 32 characters.
 */
async function find(
  text: string,
  seg: Segment,
  from: number,
  limit: number,
  fold: boolean,
  meter: WorkMeter,
): Promise<number> {
  const len = seg.length;
  const words = Math.ceil(len / 32);
  meter.charge(len * words);
  const any = new Uint32Array(words);
  seg.forEach((c, j) => {
    if (c === ANY) any[j >> 5]! |= 1 << (j & 31);
  });
  const masks = new Map<number, Uint32Array>();
  seg.forEach((c, j) => {
    if (c === ANY) return;
    let m = masks.get(c);
    if (m === undefined) masks.set(c, (m = any.slice()));
    m[j >> 5]! |= 1 << (j & 31);
  });
  const state = new Uint32Array(words);
  const topWord = (len - 1) >> 5;
  const topBit = (len - 1) & 31;
  // unit offsets of the last `len` characters, to find where a match started
  const starts = new Int32Array(len);
  let k = 0;
  let steps = 0;
  let i = from;
  while (i < limit) {
    const cp = text.codePointAt(i)!;
    const w = width(cp);
    if (i + w > limit) break;
    starts[k % len] = i;
    const mask = masks.get(foldCp(cp, fold)) ?? any;
    let carry = 1;
    for (let x = 0; x < words; x++) {
      const s = state[x]!;
      state[x] = ((s << 1) | carry) & mask[x]!;
      carry = s >>> 31;
    }
    if ((state[topWord]! >>> topBit) & 1) {
      meter.charge(steps);
      return starts[(k + 1) % len]!;
    }
    i += w;
    k++;
    steps += words;
    if (steps >= CHECK) {
      meter.charge(steps);
      steps = 0;
      if (meter.due) await meter.pause();
    }
  }
  meter.charge(steps);
  return -1;
}

/**
 * ":matches": null when `pattern` does not match all of `text`, else the match variables: the
 * whole text, then what each "*" and "?" matched, in pattern order (RFC 5229 §3.2).
 */
export async function wildcardMatch(
  pattern: string,
  text: string,
  fold: boolean,
  meter: WorkMeter,
): Promise<string[] | null> {
  meter.charge(pattern.length);
  const segs = compile(pattern, fold);
  const last = segs.length - 1;
  const starts: number[] = [0];
  const ends: number[] = [matchAt(text, segs[0]!, 0, fold, meter)];
  if (ends[0]! < 0) return null;
  if (last === 0) {
    if (ends[0] !== text.length) return null;
  } else {
    const tail = segs[last]!;
    const tailStart = startOfLast(text, tail.length);
    if (tailStart < ends[0]! || matchAt(text, tail, tailStart, fold, meter) < 0) return null;
    let pos = ends[0]!;
    for (let j = 1; j < last; j++) {
      const seg = segs[j]!;
      const s = seg.length === 0 ? pos : await find(text, seg, pos, tailStart, fold, meter);
      if (s < 0) return null;
      starts.push(s);
      pos = matchAt(text, seg, s, fold, meter);
      ends.push(pos);
    }
    starts.push(tailStart);
    ends.push(text.length);
  }
  const caps: string[] = [text];
  segs.forEach((seg, j) => {
    if (j > 0) caps.push(text.slice(ends[j - 1], starts[j]));
    let i = starts[j]!;
    for (const c of seg) {
      const w = width(text.codePointAt(i)!);
      if (c === ANY) caps.push(text.slice(i, i + w));
      i += w;
    }
  });
  return caps;
}

/** ":contains": whether `key` occurs in `text` (the empty key occurs everywhere). */
export async function containsMatch(
  text: string,
  key: string,
  fold: boolean,
  meter: WorkMeter,
): Promise<boolean> {
  const seg = [...key].map((c) => foldCp(c.codePointAt(0)!, fold));
  if (seg.length === 0) return true;
  return (await find(text, seg, 0, text.length, fold, meter)) >= 0;
}
