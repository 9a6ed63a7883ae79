// No import cycles in src/ (DESIGN.md §6: imports flow one way). Reads the TypeScript sources, not
// dist/ (which may hold files whose source is gone), and counts every relative import: static,
// `import type`, re-exports and dynamic import(). A cycle of type imports is still two modules
// that cannot be understood, or moved to another folder, one without the other.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const srcDir = join(repo, "src");

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** The module graph: file → the src files it imports (relative specifiers only). */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
    const deps: string[] = [];
    const add = (spec: ts.Expression | undefined): void => {
      if (spec === undefined || !ts.isStringLiteral(spec) || !spec.text.startsWith(".")) return;
      const target = resolve(dirname(file), spec.text.replace(/\.js$/, ".ts"));
      if (known.has(target)) deps.push(target);
    };
    const visit = (n: ts.Node): void => {
      if (ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) add(n.moduleSpecifier);
      else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword)
        add(n.arguments[0]);
      ts.forEachChild(n, visit);
    };
    visit(sf);
    graph.set(file, deps);
  }
  return graph;
}

/** The strongly connected components with more than one module, or a module importing itself (Tarjan). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(group.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return found;
}

void test("the cycle finder finds a cycle of two, a self import and none in a chain", () => {
  assert.deepEqual(
    cycles(
      new Map([
        ["a", ["b"]],
        ["b", ["a", "c"]],
        ["c", []],
      ]),
    ),
    [["a", "b"]],
  );
  assert.deepEqual(cycles(new Map([["a", ["a"]]])), [["a"]]);
  assert.deepEqual(
    cycles(
      new Map([
        ["a", ["b"]],
        ["b", ["c"]],
        ["c", []],
      ]),
    ),
    [],
  );
});

void test("src/ has no import cycles, type imports included", () => {
  const graph = importGraph(sources(srcDir));
  assert.ok(graph.size > 100, "the sources were found");
  const found = cycles(graph).map((group) => group.map((f) => relative(repo, f)));
  assert.deepEqual(found, [], "import cycles in src/");
});
