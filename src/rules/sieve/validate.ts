// Sieve validator: the parsed script checked against the grammar table (grammar.ts) — commands
// and tests that exist, extensions `require`d before use, tags known and not repeated, tag
// parameters and positional arguments of the right type, if/elsif/else in order, require only
// at the top. Every error carries the line and column of the offending token. The result is the
// compiled script the interpreter runs: tags and positional arguments already separated.
import type { Argument, Command, Test } from "./ast.js";
import {
  CAPABILITIES,
  COMMANDS,
  COMPARATORS,
  DATE_PARTS,
  RELATIONS,
  TESTS,
  type ArgType,
  type Spec,
} from "./grammar.js";
import { SieveError, type Position } from "./lexer.js";
import { parseSieve } from "./parser.js";

export interface Node {
  readonly name: string;
  readonly pos: Position;
  /** Tag name → its parameter (null for a tag without one). */
  readonly tags: ReadonlyMap<string, Argument | null>;
  readonly args: readonly Argument[];
  readonly tests: readonly Node[];
  readonly block: readonly Node[] | null;
}

export interface Script {
  readonly requires: ReadonlySet<string>;
  readonly commands: readonly Node[];
}

export type CheckResult =
  { readonly ok: true; readonly script: Script } | { readonly ok: false; readonly errors: SieveError[] };

const MAX_ERRORS = 20;

/** Parses and validates; returns the compiled script or every error found (parse errors stop at the first). */
export function compileSieve(src: string): CheckResult {
  let parsed: Command[];
  try {
    parsed = parseSieve(src);
  } catch (e) {
    if (e instanceof SieveError) return { ok: false, errors: [e] };
    throw e;
  }
  const errors: SieveError[] = [];
  const requires = new Set<string>();
  const fail = (reason: string, pos: Position): void => {
    if (errors.length < MAX_ERRORS) errors.push(new SieveError(reason, pos));
  };

  // require: only before any other command (RFC 5228 §3.2)
  let seenOther = false;
  for (const c of parsed) {
    if (c.name !== "require") {
      seenOther = true;
      continue;
    }
    if (seenOther) fail("require must come before any other command", c.pos);
    const list = c.args[0];
    if (c.args.length !== 1 || list?.kind !== "strings" || c.tests.length > 0 || c.block) {
      fail("require takes one string list", c.pos);
      continue;
    }
    for (const cap of list.values) {
      if ((CAPABILITIES as readonly string[]).includes(cap)) requires.add(cap);
      else fail(`unknown extension '${cap}'`, list.pos);
    }
  }

  const commands = block(parsed, false);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, script: { requires, commands } };

  function block(cmds: readonly Command[], nested: boolean): Node[] {
    const out: Node[] = [];
    let prev: string | null = null;
    for (const c of cmds) {
      if (c.name === "require") {
        if (nested) fail("require must come before any other command", c.pos);
        prev = "require";
        continue;
      }
      const spec = COMMANDS[c.name];
      if (!spec) {
        fail(TESTS[c.name] ? `'${c.name}' is a test, not a command` : `unknown command '${c.name}'`, c.pos);
        prev = c.name;
        continue;
      }
      if ((c.name === "elsif" || c.name === "else") && prev !== "if" && prev !== "elsif") {
        fail(`${c.name} without a preceding if`, c.pos);
      }
      prev = c.name;
      const node = check(c, spec, "command");
      if (spec.block && !c.block) fail(`${c.name} needs a block`, c.pos);
      if (!spec.block && c.block) fail(`${c.name} takes no block`, c.pos);
      out.push({ ...node, block: c.block ? block(c.block, true) : null });
    }
    return out;
  }

  function testNode(t: Test): Node {
    const spec = TESTS[t.name];
    if (!spec) {
      fail(COMMANDS[t.name] ? `'${t.name}' is a command, not a test` : `unknown test '${t.name}'`, t.pos);
      return { name: t.name, pos: t.pos, tags: new Map(), args: [], tests: [], block: null };
    }
    return check(t, spec, "test");
  }

  function check(c: Command | Test, spec: Spec, what: string): Node {
    if (spec.ext && !requires.has(spec.ext)) fail(`${what} '${c.name}' needs require "${spec.ext}"`, c.pos);
    const tags = new Map<string, Argument | null>();
    const groups = new Map<string, string>();
    const positional: Argument[] = [];
    for (let i = 0; i < c.args.length; i++) {
      const a = c.args[i]!;
      if (a.kind !== "tag") {
        positional.push(a);
        continue;
      }
      if (positional.length > 0) {
        fail(`tagged argument ':${a.name}' must come before the positional arguments`, a.pos);
        continue;
      }
      const t = spec.tags[a.name];
      if (!t) {
        fail(`unknown tagged argument ':${a.name}' for ${c.name}`, a.pos);
        continue;
      }
      if (t.ext && !requires.has(t.ext)) fail(`':${a.name}' needs require "${t.ext}"`, a.pos);
      if (tags.has(a.name)) fail(`':${a.name}' given twice`, a.pos);
      if (t.group) {
        const other = groups.get(t.group);
        if (other) fail(`':${a.name}' conflicts with ':${other}'`, a.pos);
        groups.set(t.group, a.name);
      }
      if (t.param) {
        const p = c.args[i + 1];
        if (!p || !fits(p, t.param)) {
          fail(`':${a.name}' needs ${describe(t.param)}`, p?.pos ?? a.pos);
          tags.set(a.name, null);
          continue;
        }
        i++;
        tags.set(a.name, p);
      } else tags.set(a.name, null);
    }
    const matching = spec.signatures.find(
      (sig) => sig.length === positional.length && sig.every((s, k) => fits(positional[k]!, s)),
    );
    if (!matching) {
      const sig =
        spec.signatures.find((s) => s.length >= positional.length) ??
        spec.signatures[spec.signatures.length - 1]!;
      const bad = positional.findIndex((p, k) => {
        const want = sig[k];
        return want === undefined || !fits(p, want);
      });
      if (bad >= 0) {
        const want = sig[bad];
        fail(
          want ? `${c.name}: argument ${bad + 1} must be ${describe(want)}` : `${c.name}: too many arguments`,
          positional[bad]!.pos,
        );
      } else fail(`${c.name}: missing ${describe(sig[positional.length] ?? "string")}`, c.pos);
    }
    if (spec.tests === "none" && c.tests.length > 0) fail(`${c.name} takes no test`, c.tests[0]!.pos);
    if (spec.tests === "one" && (c.tests.length !== 1 || c.testList)) fail(`${c.name} needs one test`, c.pos);
    if (spec.tests === "list" && !c.testList) fail(`${c.name} needs a test list in parentheses`, c.pos);
    semantic(c, tags, positional);
    return { name: c.name, pos: c.pos, tags, args: positional, tests: c.tests.map(testNode), block: null };
  }

  function semantic(c: Command | Test, tags: Map<string, Argument | null>, args: Argument[]): void {
    const cmp = tags.get("comparator");
    if (cmp?.kind === "strings") {
      const name = cmp.values[0]!.toLowerCase();
      if (!COMPARATORS.includes(name)) fail(`unknown comparator '${cmp.values[0]}'`, cmp.pos);
      else if (name === "i;ascii-numeric" && !requires.has("comparator-i;ascii-numeric")) {
        fail(`comparator '${name}' needs require "comparator-${name}"`, cmp.pos);
      }
    }
    for (const rel of ["value", "count"]) {
      const r = tags.get(rel);
      if (r?.kind === "strings" && !RELATIONS.includes(r.values[0]!.toLowerCase()))
        fail(`unknown relational operator '${r.values[0]}'`, r.pos);
    }
    if (c.name !== "addheader" && tags.has("last") && !tags.has("index"))
      fail("':last' needs ':index'", c.pos);
    const idx = tags.get("index");
    if (idx?.kind === "number" && idx.value < 1) fail("':index' counts from 1", idx.pos);
    if (c.name === "size" && !tags.has("over") && !tags.has("under"))
      fail("size needs :over or :under", c.pos);
    if (c.name === "envelope") {
      const parts = args[0];
      if (parts?.kind === "strings") {
        for (const p of parts.values)
          if (!["from", "to"].includes(p.toLowerCase()) && !p.includes("${"))
            fail(`unknown envelope part '${p}'`, parts.pos);
      }
    }
    if (c.name === "date" || c.name === "currentdate") {
      const part = args[c.name === "date" ? 1 : 0];
      if (
        part?.kind === "strings" &&
        !part.values[0]!.includes("${") &&
        !DATE_PARTS.includes(part.values[0]!.toLowerCase())
      ) {
        fail(`unknown date part '${part.values[0]}'`, part.pos);
      }
    }
    if (c.name === "set") {
      const name = args[0];
      if (name?.kind === "strings" && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name.values[0]!))
        fail(`bad variable name '${name.values[0]}'`, name.pos);
    }
    if (c.name === "vacation") {
      const d = tags.get("days");
      if (d?.kind === "number" && d.value < 1) fail("vacation :days must be at least 1", d.pos);
    }
    if (tags.has("regex")) {
      const keys = args[args.length - 1];
      if (keys?.kind === "strings") {
        for (const k of keys.values) {
          if (k.includes("${")) continue;
          try {
            new RegExp(k);
          } catch {
            fail(`bad regular expression '${k}'`, keys.pos);
          }
        }
      }
    }
  }
}

function fits(a: Argument, t: ArgType): boolean {
  if (t === "number") return a.kind === "number";
  if (t === "string") return a.kind === "strings" && !a.bracketed;
  return a.kind === "strings";
}

function describe(t: ArgType): string {
  return t === "number" ? "a number" : t === "string" ? "a string" : "a string list";
}
