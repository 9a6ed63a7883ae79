// Lint: typescript-eslint with type information. Import boundaries follow DESIGN.md §6:
// lower layers never import higher ones, and nothing imports src/cli. Import cycles are kept
// out by src/import-cycles.test.ts.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Every folder of src/ and the folders it may import; anything else under src/ is refused. The
// order is DESIGN.md §6's, lowest first. proto/ does no I/O, so it may not import the node
// modules that do (a parser there can then be fed any bytes in a unit test).
const FOLDERS = {
  proto: ["world", "log", "config"],
  world: ["proto", "log", "config"],
  log: ["proto", "world", "config"],
  config: ["proto", "world", "log"],
  smtp: ["proto", "world", "log", "config"],
  state: ["proto", "world", "log", "config"],
  http: ["proto", "world", "log", "config", "directory"],
  rules: ["proto", "world", "log", "config", "state", "directory"],
  directory: ["proto", "world", "log", "config", "smtp", "state", "rules"],
  store: ["proto", "world", "log", "config", "smtp", "state", "directory", "rules"],
  queue: ["proto", "world", "log", "config", "smtp", "state", "directory", "store", "rules"],
  cluster: [
    "proto",
    "world",
    "log",
    "config",
    "smtp",
    "state",
    "http",
    "directory",
    "store",
    "rules",
    "queue",
  ],
  sources: [
    "proto",
    "world",
    "log",
    "config",
    "smtp",
    "state",
    "http",
    "directory",
    "store",
    "rules",
    "queue",
  ],
  delivery: [
    ...["proto", "world", "log", "config", "smtp", "state", "http", "directory", "store", "rules", "queue"],
    ...["cluster"],
  ],
  inbound: [
    ...["proto", "world", "log", "config", "smtp", "state", "http", "directory", "store", "rules", "queue"],
    ...["cluster", "sources"],
  ],
  admin: [
    ...["proto", "world", "log", "config", "smtp", "state", "http", "directory", "store", "rules", "queue"],
    ...["cluster", "sources", "delivery", "inbound"],
  ],
  server: [
    ...["proto", "world", "log", "config", "smtp", "state", "http", "directory", "store", "rules", "queue"],
    ...["cluster", "sources", "delivery", "inbound", "admin"],
  ],
  // Nothing imports cli; cli wires everything, but not the test kit.
  cli: [
    ...["proto", "world", "log", "config", "smtp", "state", "http", "directory", "store", "rules", "queue"],
    ...["cluster", "sources", "delivery", "inbound", "admin", "server"],
  ],
};
const IO_MODULES = [
  "tls",
  "fs",
  "fs/promises",
  "dgram",
  "dns",
  "dns/promises",
  "child_process",
  "http",
  "https",
];
const IO_MORE = ["http2", "cluster", "worker_threads", "readline", "os", "process"];
const ioMessage = "src/proto does no I/O (DESIGN.md §6)";
const io = [
  ...[...IO_MODULES, ...IO_MORE]
    .flatMap((m) => [`node:${m}`, m])
    .map((name) => ({ name, message: ioMessage })),
  // node:net's address syntax (isIP, SocketAddress) is computation; its sockets are not.
  ...["node:net", "net"].map((name) => ({
    name,
    allowImportNames: ["isIP", "isIPv4", "isIPv6", "SocketAddress"],
    message: ioMessage,
  })),
];

// Sub-folders with a narrower rule than their folder's. The delivery channel is below the
// delivery layer that uses it and knows nothing of accounts or mailboxes: only the cluster part.
const SUBFOLDERS = {
  "cluster/channel": ["proto", "world", "log", "config", "smtp", "state", "queue", "cluster"],
};

// What a folder's own tests may import besides: the state files' permission test opens a
// directory on one; the rule stores' tests open the cluster state they share a file with.
const TEST_EXTRA = { state: ["directory"], rules: ["cluster"] };

// One block per depth below the folder, so that a pattern names src/<folder> exactly
// (src/smtp/server is not src/server); tests get their own block.
const DEPTHS = [1, 2, 3, 4];
const layer = (from, allowed, depth, tests) => {
  const may = tests ? [...allowed, ...(TEST_EXTRA[from] ?? [])] : allowed;
  const forbidden = Object.keys(FOLDERS).filter((f) => f !== from && !may.includes(f));
  if (from === "cli") forbidden.push("test");
  const up = "../".repeat(from.split("/").length + depth - 1);
  const files = `src/${from}/${"*/".repeat(depth - 1)}*`;
  return {
    files: [tests ? `${files}.test.ts` : `${files}.ts`],
    ...(tests ? {} : { ignores: ["**/*.test.ts"] }),
    rules: {
      "no-restricted-imports": [
        "error",
        {
          // Its tests may read files (docs/REPLIES.md): the rule is on what proto does.
          ...(from === "proto" && !tests ? { paths: io } : {}),
          patterns: forbidden.map((f) => ({
            group: [`${up}${f}/*`, `${up}${f}`],
            message: `src/${from} must not import ${f === "test" ? "test" : `src/${f}`} (DESIGN.md §6)`,
          })),
        },
      ],
    },
  };
};
// Sub-folders come last, so that their rule replaces their folder's for their files.
const boundaries = [...Object.entries(FOLDERS), ...Object.entries(SUBFOLDERS)].flatMap(([from, allowed]) =>
  DEPTHS.flatMap((d) => [layer(from, allowed, d, false), layer(from, allowed, d, true)]),
);

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "node_modules/**",
      "data/**",
      "bench/results/**",
      "eslint.config.js",
      "bin/**",
      "scripts/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
    },
  },
  {
    files: ["test/**/*.ts", "src/**/*.test.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      // node:test's test()/describe() return promises the runner itself awaits.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "describe", "it", "before", "after"] },
          ],
        },
      ],
    },
  },
  {
    // The WebAdmin's browser modules: plain ES modules served as written (src/admin/web/assets.ts).
    files: ["webadmin/**/*.js"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: "module",
      globals: Object.fromEntries(
        ["window", "document", "location", "fetch", "Event", "setInterval", "clearInterval", "confirm"].map(
          (g) => [g, "readonly"],
        ),
      ),
    },
  },
  ...boundaries,
);
