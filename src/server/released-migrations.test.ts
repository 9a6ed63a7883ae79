// Released migrations never change: an installation that applied version N must find the same
// schema in every later program. Most texts are derived (state/migration.ts bothDialects), so an
// edit can hide in the derivation rules as well as in a migration; the digests of every released
// text (comments dropped, white space folded) catch both. A new version appends a row here.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ADMIN_MIGRATIONS } from "../admin/web/users-migrations.js";
import { CLUSTER_MIGRATIONS } from "../cluster/migrations.js";
import { DKIM_MIGRATIONS } from "../delivery/dkim/migrations.js";
import { MIGRATIONS } from "../directory/migrations.js";
import { RULE_MIGRATIONS } from "../rules/migrations.js";
import { RPOP_MIGRATIONS } from "../sources/rpop/migrations.js";
import type { StateMigration } from "../state/migration.js";
import { THROTTLE_MIGRATIONS } from "../state/throttle-migrations.js";
import { SCHEMAS, type SchemaName } from "./state-stores.js";

const LISTS: Record<SchemaName, readonly StateMigration[]> = {
  directory: MIGRATIONS,
  cluster: CLUSTER_MIGRATIONS,
  rules: RULE_MIGRATIONS,
  rpop: RPOP_MIGRATIONS,
  admin: ADMIN_MIGRATIONS,
  throttle: THROTTLE_MIGRATIONS,
  dkim: DKIM_MIGRATIONS,
};

/**
 * How many versions of each schema are released, and the digest of their texts (version, SQLite
 * text, PostgreSQL text, in order). Releasing a new version raises its count and digest here.
 */
const RELEASED: Record<SchemaName, readonly [count: number, digest: string]> = {
  directory: [2, "cc5dc25dbfcf64b9"],
  cluster: [2, "81f6364daa098748"],
  rules: [1, "9b88c63d1efb27d0"],
  rpop: [2, "fbd7d077ed27c5a5"],
  admin: [3, "a586645cd61cb66c"],
  throttle: [1, "67226c52dbfe2267"],
  dkim: [1, "5121b030dd2436f6"],
};

/** Comments dropped and white space folded: only what SQL reads counts. */
const statements = (sql: string): string =>
  sql
    .replace(/--[^\n]*/g, "")
    .replace(/\s+/g, " ")
    .replace(/\( /g, "(")
    .replace(/ \)/g, ")")
    .trim();

const digest = (released: readonly StateMigration[]): string =>
  createHash("sha256")
    .update(
      released.map((m) => `${m.version}\n${statements(m.sqlite)}\n${statements(m.postgres)}`).join("\n"),
    )
    .digest("hex")
    .slice(0, 16);

void test("released migrations: every schema's released SQLite and PostgreSQL texts are unchanged", () => {
  for (const schema of SCHEMAS) {
    const [count, released] = RELEASED[schema];
    assert.ok(LISTS[schema].length >= count, `${schema}: a released version is gone`);
    assert.equal(digest(LISTS[schema].slice(0, count)), released, `${schema}: a released migration changed`);
  }
});
