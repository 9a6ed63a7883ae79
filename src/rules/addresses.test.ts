// Header addresses for the rules: the angle-address scan finds what /<([^>]*)>/ finds, on many
// random parts, and a field made of nothing but "<" (the worst case of that expression) is read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { angleAddr, parseAddressList } from "./addresses.js";
import { randomText, seeded } from "../../test/kit/random-text.js";

test("angleAddr agrees with /<([^>]*)>/ on 20,000 random parts", () => {
  const rnd = seeded(7);
  const chars = ["<", ">", "a", "@", " ", '"'];
  for (let i = 0; i < 20_000; i++) {
    const p = randomText(rnd, chars, 10);
    const m = /<([^>]*)>/.exec(p);
    assert.deepEqual(angleAddr(p), m ? { index: m.index, inner: m[1]! } : null, JSON.stringify(p));
  }
});

test("the usual forms still read the same", () => {
  assert.deepEqual(
    parseAddressList('"Bob B." <bob@x.test>, carl@y.test, Team: d@z.test, <@r.test:e@w.test>;'),
    [
      { address: "bob@x.test", name: "Bob B." },
      { address: "carl@y.test", name: "" },
      { address: "d@z.test", name: "" },
      { address: "e@w.test", name: "" },
    ],
  );
});

test("a 256 KB field of '<' (and of '<,') is read: no address, and no quadratic scan", () => {
  assert.deepEqual(parseAddressList("<".repeat(262_144)).length, 1);
  assert.deepEqual(parseAddressList("<,".repeat(131_072)).length, 1);
});
