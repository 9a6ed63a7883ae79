// Lint: typescript-eslint with type information. Import boundaries follow DESIGN.md §6:
// lower layers never import higher ones, and nothing imports src/cli.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const layer = (from, forbidden) => ({
  files: [`src/${from}/**/*.ts`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: forbidden.map((f) => ({
          group: [`**/${f}/*`, `../${f}/*`],
          message: `src/${from} must not import src/${f} (DESIGN.md §6)`,
        })),
      },
    ],
  },
});
const above = {
  proto: [
    "smtp",
    "queue",
    "delivery",
    "directory",
    "cluster",
    "store",
    "rules",
    "sources",
    "admin",
    "cli",
    "inbound",
    "server",
  ],
  world: [
    "smtp",
    "queue",
    "delivery",
    "directory",
    "cluster",
    "store",
    "rules",
    "sources",
    "admin",
    "cli",
    "inbound",
    "server",
  ],
  log: [
    "smtp",
    "queue",
    "delivery",
    "directory",
    "cluster",
    "store",
    "rules",
    "sources",
    "admin",
    "cli",
    "inbound",
    "server",
  ],
  config: [
    "smtp",
    "queue",
    "delivery",
    "directory",
    "cluster",
    "store",
    "rules",
    "sources",
    "admin",
    "cli",
    "inbound",
    "server",
  ],
  smtp: [
    "queue",
    "delivery",
    "directory",
    "cluster",
    "store",
    "rules",
    "sources",
    "admin",
    "cli",
    "inbound",
    "server",
  ],
  queue: ["delivery", "cluster", "sources", "admin", "cli", "inbound", "server"],
  store: ["delivery", "cluster", "sources", "admin", "cli", "inbound", "server", "queue"],
  directory: ["delivery", "cluster", "sources", "admin", "cli", "inbound", "server", "queue", "store"],
  delivery: ["admin", "cli", "inbound", "server"],
  // The delivery channel is below the delivery layer that uses it. (src/server cannot be named:
  // the pattern would also catch src/smtp/server, which the channel is built on.)
  "cluster/channel": ["delivery", "inbound", "sources", "admin", "cli", "directory", "store", "rules"],
  inbound: ["admin", "cli", "server", "delivery"],
  admin: ["cli"],
  server: ["cli"],
};

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
  ...Object.entries(above).map(([from, forbidden]) => layer(from, forbidden)),
);
