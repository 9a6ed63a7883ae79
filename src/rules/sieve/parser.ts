// Sieve parser (RFC 5228 §8.2 grammar): tokens → commands. Only syntax is checked here; which
// commands, tags and argument types exist is the validator's job (validate.ts). Nesting depth is
// bounded so a hostile script cannot exhaust the stack.
import type { Argument, Command, Test } from "./ast.js";
import { SieveError, tokenize, type Token } from "./lexer.js";

const MAX_DEPTH = 32;
const MAX_LIST = 1024;

export function parseSieve(src: string): Command[] {
  const tokens = tokenize(src);
  let p = 0;
  const peek = (): Token => tokens[p]!;
  const next = (): Token => tokens[p++]!;
  const isPunct = (t: Token, v: string): boolean => t.type === "punct" && t.value === v;
  const describe = (t: Token): string =>
    t.type === "eof"
      ? "end of script"
      : t.type === "punct"
        ? `'${t.value}'`
        : t.type === "string"
          ? "a string"
          : t.type === "number"
            ? "a number"
            : t.type === "tag"
              ? `':${t.value}'`
              : `'${t.value}'`;

  function commands(depth: number, inBlock: boolean): Command[] {
    const out: Command[] = [];
    for (;;) {
      const t = peek();
      if (t.type === "eof") {
        if (inBlock) throw new SieveError("missing '}' at end of script", t.pos);
        return out;
      }
      if (inBlock && isPunct(t, "}")) return out;
      if (t.type !== "identifier") throw new SieveError(`expected a command, found ${describe(t)}`, t.pos);
      out.push(command(depth));
    }
  }

  function command(depth: number): Command {
    const id = next() as Extract<Token, { type: "identifier" }>;
    const args = argumentsOf();
    const { tests, testList } = testsOf(depth);
    const t = next();
    if (isPunct(t, ";")) return { name: id.value, pos: id.pos, args, tests, testList, block: null };
    if (isPunct(t, "{")) {
      if (depth >= MAX_DEPTH) throw new SieveError("blocks nested too deeply", t.pos);
      const block = commands(depth + 1, true);
      next(); // '}'
      return { name: id.value, pos: id.pos, args, tests, testList, block };
    }
    throw new SieveError(`expected ';' or '{' after ${id.value}, found ${describe(t)}`, t.pos);
  }

  function argumentsOf(): Argument[] {
    const args: Argument[] = [];
    for (;;) {
      const t = peek();
      if (t.type === "tag") args.push({ kind: "tag", name: t.value, pos: t.pos });
      else if (t.type === "number") args.push({ kind: "number", value: t.value, pos: t.pos });
      else if (t.type === "string")
        args.push({ kind: "strings", values: [t.value], bracketed: false, pos: t.pos });
      else if (isPunct(t, "[")) {
        next();
        args.push({ kind: "strings", values: stringList(), bracketed: true, pos: t.pos });
        continue;
      } else return args;
      next();
    }
  }

  function stringList(): string[] {
    const values: string[] = [];
    for (;;) {
      const t = next();
      if (t.type !== "string")
        throw new SieveError(`expected a string in the list, found ${describe(t)}`, t.pos);
      values.push(t.value);
      if (values.length > MAX_LIST) throw new SieveError("string list too long", t.pos);
      const sep = next();
      if (isPunct(sep, "]")) return values;
      if (!isPunct(sep, ","))
        throw new SieveError(`expected ',' or ']' in the string list, found ${describe(sep)}`, sep.pos);
    }
  }

  function testsOf(depth: number): { tests: Test[]; testList: boolean } {
    const t = peek();
    if (t.type === "identifier") return { tests: [test(depth + 1)], testList: false };
    if (isPunct(t, "(")) {
      next();
      const tests: Test[] = [];
      for (;;) {
        const u = peek();
        if (u.type !== "identifier") throw new SieveError(`expected a test, found ${describe(u)}`, u.pos);
        tests.push(test(depth + 1));
        const sep = next();
        if (isPunct(sep, ")")) return { tests, testList: true };
        if (!isPunct(sep, ","))
          throw new SieveError(`expected ',' or ')' in the test list, found ${describe(sep)}`, sep.pos);
      }
    }
    return { tests: [], testList: false };
  }

  function test(depth: number): Test {
    const id = next();
    if (depth >= MAX_DEPTH) throw new SieveError("tests nested too deeply", id.pos);
    if (id.type !== "identifier") throw new SieveError(`expected a test, found ${describe(id)}`, id.pos);
    const args = argumentsOf();
    const { tests, testList } = testsOf(depth);
    return { name: id.value, pos: id.pos, args, tests, testList };
  }

  return commands(0, false);
}
