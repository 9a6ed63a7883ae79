// The WebAdmin's fixed set of served files against webadmin/ on disk: every browser module is
// served, and every URL that index.html loads or a served module imports is in the set, so a
// module left out of assets.ts fails here rather than as a 404 in the browser.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadAssets } from "./assets.js";

const ROOT = fileURLToPath(new URL("../../../../webadmin/", import.meta.url));

/** The path below /admin/ that `ref` names when `from` (a path below /admin/) refers to it. */
function served(from: string, ref: string): string {
  const url = new URL(ref, `http://admin.invalid/admin/${from}`);
  assert.ok(url.pathname.startsWith("/admin/"), `${from}: ${ref} is outside /admin/`);
  return url.pathname.slice("/admin/".length);
}

// Static imports and re-exports at the start of a line (a JSDoc import("...") type is not one).
const IMPORT = /^(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"|^import\s*"([^"]+)"/gms;

void test("every module in webadmin/ is served, and so is everything they load", async () => {
  const assets = await loadAssets();
  const modules = (await readdir(ROOT, { recursive: true }))
    .map((f) => f.split("\\").join("/"))
    .filter((f) => f.endsWith(".js"))
    .sort();
  assert.ok(modules.includes("app.js") && modules.some((m) => m.startsWith("pages/")), "the modules found");
  for (const m of modules)
    assert.equal(assets.get(m)?.type, "text/javascript; charset=utf-8", `${m} is served`);

  const index = assets.get("")!.body.toString("utf8");
  const loaded = [...index.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((x) => served("", x[1]!));
  assert.deepEqual(loaded.sort(), ["app.css", "app.js"]);
  for (const m of modules) {
    const text = assets.get(m)!.body.toString("utf8");
    for (const x of text.matchAll(IMPORT)) {
      const target = served(m, x[1] ?? x[2]!);
      assert.ok(assets.has(target), `${m} imports ${target}, which is not served`);
    }
  }
  // Only the fixed set: no type declarations or the type check's config.
  for (const name of assets.keys()) assert.ok(!/\.d\.ts$|tsconfig/.test(name), name);
});
