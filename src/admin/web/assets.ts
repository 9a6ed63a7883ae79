// The WebAdmin's static files: the page, its modules (the shell, one per page, the shared ones)
// and styles from webadmin/ in the package, and the one library, htm's preact bundle (preact +
// hooks + htm, 13 KB, one ESM file) from node_modules, so nothing is fetched from a CDN. The
// set of files is fixed here (no path from the URL reaches the file system) and read once;
// assets.test.ts checks that it holds every module of webadmin/ and every file they import.
//
// Why preact + htm: the pages are a small single-page app over the JSON admin API (the same API
// the CLI uses), which wants client-side state (polling counters, live logs, forms) more than
// server templates; preact is React's API in 4 KB and htm gives it JSX-like templates without a
// build step, so the front end is plain ES modules served as written, with nothing to compile,
// bundle or audit beyond one well-kept dependency. Their JSDoc types are checked by tsc
// (webadmin/tsconfig.json, part of `npm run build`), which only reads them.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

const ROOT = fileURLToPath(new URL("../../../../webadmin/", import.meta.url));

function htmDir(): string {
  // htm's main entry is dist/htm.js; the preact bundle sits beside dist/.
  const main = createRequire(import.meta.url).resolve("htm");
  return join(dirname(main), "..");
}

/** The browser modules under /admin/, by their path in webadmin/ (they import each other relatively). */
const MODULES = [
  "app.js",
  "api.js",
  "dkim-keys.js",
  "error.js",
  "events.js",
  "format.js",
  "load.js",
  "milters.js",
  "node-picker.js",
  "rule-text.js",
  "pages/cluster.js",
  "pages/domains.js",
  "pages/mail.js",
  "pages/monitor.js",
  "pages/queues.js",
] as const;

const JS = "text/javascript; charset=utf-8";

const FILES: Readonly<Record<string, { path: () => string; type: string }>> = {
  "": { path: () => join(ROOT, "index.html"), type: "text/html; charset=utf-8" },
  ...Object.fromEntries(MODULES.map((m) => [m, { path: () => join(ROOT, m), type: JS }])),
  "app.css": { path: () => join(ROOT, "app.css"), type: "text/css; charset=utf-8" },
  "vendor/preact-htm.js": {
    path: () => join(htmDir(), "preact", "standalone.module.js"),
    type: JS,
  },
};

export async function loadAssets(): Promise<Map<string, Asset>> {
  const out = new Map<string, Asset>();
  for (const [name, f] of Object.entries(FILES))
    out.set(name, { type: f.type, body: await readFile(f.path()) });
  return out;
}
