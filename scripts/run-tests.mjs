#!/usr/bin/env node
// Runs the compiled test files with node's test runner. Unit tests sit beside the code
// (src/**/*.test.ts), integration tests under test/. Args: --unit (src only), or file filters
// (substrings of the path) to run a subset: node scripts/run-tests.mjs spool relay
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const unitOnly = args.includes("--unit");
const filters = args.filter((a) => !a.startsWith("--"));

function walk(dir, out = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const roots = unitOnly ? ["dist/src"] : ["dist/src", "dist/test", "dist/bench"];
const files = roots
  .flatMap((r) => walk(r))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error("run-tests: no test files matched");
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ["--test", "--test-concurrency=2", "--test-timeout=120000", "--enable-source-maps", ...files],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
