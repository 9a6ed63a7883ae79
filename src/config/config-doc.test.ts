// docs/CONFIG.md documents exactly the settings the schema has, with their environment names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { settingKeys } from "./keys.js";

void test("docs/CONFIG.md and the settings schema name the same keys", async () => {
  const doc = await readFile(new URL("../../../docs/CONFIG.md", import.meta.url), "utf8");
  // Table rows of the settings tables: | `key` | `MAILYARD_...` | ...
  const rows = [...doc.matchAll(/^\|\s*`([A-Za-z0-9.]+)`\s*\|\s*`(MAILYARD_[A-Z0-9_]+)`\s*\|/gm)];
  const documented = new Map(rows.map((m) => [m[1]!, m[2]!]));
  const schema = new Map(settingKeys().map((k) => [k.key, k.env]));
  assert.deepEqual(
    [...schema.keys()].filter((k) => !documented.has(k)),
    [],
    "settings missing from docs/CONFIG.md",
  );
  assert.deepEqual(
    [...documented.keys()].filter((k) => !schema.has(k)),
    [],
    "docs/CONFIG.md documents settings the schema lacks",
  );
  assert.equal(rows.length, documented.size, "a setting is documented twice");
  for (const [key, env] of schema) assert.equal(documented.get(key), env, `environment name of ${key}`);
});

void test("docs/CONFIG.md states each setting's default as the schema has it", async () => {
  const doc = await readFile(new URL("../../../docs/CONFIG.md", import.meta.url), "utf8");
  // | `key` | `ENV` | type | `default` | meaning |
  const rows = [
    ...doc.matchAll(
      /^\|\s*`([A-Za-z0-9.]+)`\s*\|\s*`MAILYARD_[A-Z0-9_]+`\s*\|[^|]*(?:\\\|[^|]*)*\|\s*`([^`]*)`\s*\|/gm,
    ),
  ];
  const documented = new Map(rows.map((m) => [m[1]!, m[2]!]));
  for (const k of settingKeys()) {
    const shown = documented.get(k.key);
    assert.ok(shown !== undefined, `no default shown for ${k.key}`);
    assert.deepEqual(JSON.parse(shown.replace(/(\d)_(?=\d)/g, "$1")), k.default, `default of ${k.key}`);
  }
});
