// The wildcard matcher: the same answers and match variables as a plain backtracking matcher on
// many small random cases, and a work bound linear in the text on long hostile input (counted
// steps, never time). Also the interpreter's limits: long input pauses, too much work is the
// implicit keep, and a runaway :regex ends at its deadline while the event loop runs on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { WorkMeter } from "./meter.js";
import { containsMatch, wildcardMatch } from "./wildcard.js";
import { compileSieve } from "./validate.js";
import { runSieve } from "./interpret.js";
import { view } from "../../../test/kit/message-view.js";

const noPause = (): Promise<void> => Promise.resolve();

/** The reference: RFC 5228 §2.7.1 by exhaustive backtracking, each "*" shortest first. */
function reference(pattern: string, text: string, fold: boolean): string[] | null {
  const f = (s: string): string => (fold ? s.replace(/[A-Z]/g, (c) => c.toLowerCase()) : s);
  const p = [...f(pattern)];
  const t = [...text];
  const tf = [...f(text)];
  const caps: string[] = [];
  const go = (pi: number, ti: number): boolean => {
    if (pi === p.length) return ti === t.length;
    const c = p[pi]!;
    if (c === "*") {
      for (let k = ti; k <= t.length; k++) {
        caps.push(t.slice(ti, k).join(""));
        if (go(pi + 1, k)) return true;
        caps.pop();
      }
      return false;
    }
    if (c === "?") {
      if (ti >= t.length) return false;
      caps.push(t[ti]!);
      if (go(pi + 1, ti + 1)) return true;
      caps.pop();
      return false;
    }
    const [lit, step] = c === "\\" && pi + 1 < p.length ? [p[pi + 1]!, 2] : [c, 1];
    return ti < t.length && tf[ti] === lit && go(pi + step, ti + 1);
  };
  return go(0, 0) ? [text, ...caps] : null;
}

/** A small repeatable generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test("wildcard matching agrees with backtracking, match variables included, on 20,000 random cases", async () => {
  const rnd = random(15);
  const pick = (chars: readonly string[], n: number): string =>
    Array.from({ length: n }, () => chars[Math.floor(rnd() * chars.length)]!).join("");
  const patternChars = ["a", "b", "A", "*", "*", "?", "\\", "😀"];
  const textChars = ["a", "b", "A", "B", "*", "?", "\\", "😀"];
  for (let i = 0; i < 20_000; i++) {
    const pattern = pick(patternChars, Math.floor(rnd() * 7));
    const text = pick(textChars, Math.floor(rnd() * 9));
    const fold = rnd() < 0.5;
    const got = await wildcardMatch(pattern, text, fold, new WorkMeter(noPause));
    assert.deepEqual(
      got,
      reference(pattern, text, fold),
      `${JSON.stringify(pattern)} on ${JSON.stringify(text)}`,
    );
  }
});

test("RFC 5229 §3.2's example: each * takes as little as it can, the leftmost first", async () => {
  const m = new WorkMeter(noPause);
  assert.deepEqual(await wildcardMatch("[*] *", "[acme-users] [fwd] version 1.0 is out", true, m), [
    "[acme-users] [fwd] version 1.0 is out",
    "acme-users",
    "[fwd] version 1.0 is out",
  ]);
  assert.deepEqual(await wildcardMatch("*@*", "a@b@c", true, m), ["a@b@c", "a", "b@c"]);
});

const HOSTILE: [string, string][] = [
  // the report's case: a near miss at every position
  ["*money*", "mone".repeat(50_000)],
  ["*money*", "m".repeat(200_000)],
  // many stars and a tail that fails only at the very end
  ["*a*a*a*a*a*a*a*a*a*a*b", "a".repeat(200_000)],
  ["*a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?b*", "a".repeat(200_000)],
  ["?*?*?*?*?*?*?*?*x", "y".repeat(200_000)],
];

for (const [pattern, text] of HOSTILE) {
  test(`work is linear in the text: ${pattern} on ${text.length} characters`, async () => {
    const meter = new WorkMeter(noPause);
    await wildcardMatch(pattern, text, true, meter);
    // one step per character per 32 pattern characters, plus the pattern itself
    const words = Math.ceil(pattern.length / 32);
    assert.ok(
      meter.used <= 2 * words * (text.length + pattern.length),
      `${meter.used} steps for n=${text.length}`,
    );
  });
}

test(":contains is linear too, and finds what indexOf finds", async () => {
  const text = "mone".repeat(50_000) + "MONEY";
  const meter = new WorkMeter(noPause);
  assert.equal(await containsMatch(text, "money", true, meter), true);
  assert.equal(await containsMatch(text, "money", false, new WorkMeter(noPause)), false);
  assert.ok(meter.used <= 2 * text.length, `${meter.used} steps`);
});

test("a long header gives the event loop back while it is matched", async () => {
  const c = compileSieve('require "fileinto"; if header :matches "subject" "*money*" { fileinto "Spam"; }');
  assert.ok(c.ok);
  let pauses = 0;
  const meter = new WorkMeter(() => (pauses++, Promise.resolve()));
  const r = await runSieve(c.script, view([`Subject: ${"mone".repeat(50_000)} money`]), { meter });
  assert.deepEqual(
    r.actions.map((a) => a.kind),
    ["fileinto"],
  );
  // one pause per slice of work (the last, unfinished slice needs none)
  assert.ok(pauses >= Math.floor(200_000 / meter.slice) - 1, `${pauses} pauses`);
});

test("a message past the work budget gets the implicit keep and says why", async () => {
  const c = compileSieve(
    `require "fileinto"; if header :matches "subject" ${JSON.stringify(Array.from({ length: 200 }, (_, i) => `*money${i}*`))} { fileinto "Spam"; }`,
  );
  assert.ok(c.ok, c.ok ? "" : c.errors[0]!.message);
  const r = await runSieve(c.script, view([`Subject: ${"mone".repeat(50_000)}`]), {
    meter: new WorkMeter(noPause),
  });
  assert.equal(r.limited, true);
  assert.match(r.error ?? "", /steps/);
  assert.deepEqual(r.actions, [{ kind: "keep", flags: [], implicit: true }]);
});

test("a catastrophic :regex ends at its deadline with the implicit keep; the event loop runs meanwhile", async () => {
  const c = compileSieve(
    'require ["regex", "fileinto"]; if header :regex "subject" "^(a+)+$" { fileinto "X"; }',
  );
  assert.ok(c.ok);
  let turns = 0;
  let spinning = true;
  const spin = (): void => {
    turns++;
    if (spinning) setImmediate(spin);
  };
  setImmediate(spin);
  const r = await runSieve(c.script, view([`Subject: ${"a".repeat(40)}!`]));
  spinning = false;
  assert.equal(r.limited, true);
  assert.deepEqual(r.actions, [{ kind: "keep", flags: [], implicit: true }]);
  assert.ok(turns > 10, `the loop turned ${turns} times while the regex ran`);
  // a good pattern still works after the worker was replaced
  const ok = compileSieve(
    'require ["regex", "fileinto"]; if header :regex "subject" "^(a+)!$" { fileinto "X"; }',
  );
  assert.ok(ok.ok);
  const again = await runSieve(ok.script, view([`Subject: ${"a".repeat(40)}!`]));
  assert.deepEqual(
    again.actions.map((a) => a.kind),
    ["fileinto"],
  );
});
