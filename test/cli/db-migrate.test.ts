// `mailyard db migrate` and the offline directory commands on both stores: on a SQLite file and
// on a fresh PostgreSQL database, the first run applies every version of every schema (directory,
// cluster, rules, rpop, admin, throttle, dkim) and the second finds
// nothing to do; then the directory and cluster commands work against PostgreSQL with no node
// running (the CLI opens the store through the same factory as the nodes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADMIN_MIGRATIONS } from "../../src/admin/web/users-migrations.js";
import { CLUSTER_MIGRATIONS } from "../../src/cluster/migrations.js";
import { MIGRATIONS } from "../../src/directory/migrations.js";
import { RULE_MIGRATIONS } from "../../src/rules/migrations.js";
import { RPOP_MIGRATIONS } from "../../src/sources/rpop/migrations.js";
import { THROTTLE_MIGRATIONS } from "../../src/state/throttle-migrations.js";
import { DKIM_MIGRATIONS } from "../../src/delivery/dkim/migrations.js";
import { freshDatabase } from "../kit/postgres.js";
import { mailyard } from "./run-cli.js";

const latest = (list: readonly { version: number }[]) => list[list.length - 1]!.version;

for (const store of ["sqlite", "postgres"] as const) {
  void test(`db migrate on ${store}: applies every version once, then is up to date`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "mailyard-migrate-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const url = store === "postgres" ? await freshDatabase(t) : join(dir, "state.db");
    const env = { MAILYARD_STATE_URL: url, MAILYARD_DATADIR: join(dir, "data") };
    const first = await mailyard(["db", "migrate", "--json"], env);
    assert.equal(first.code, 0, first.err);
    const r1 = JSON.parse(first.out) as Record<string, { applied: number[]; version: number }>;
    const schemas = {
      directory: MIGRATIONS,
      cluster: CLUSTER_MIGRATIONS,
      rules: RULE_MIGRATIONS,
      rpop: RPOP_MIGRATIONS,
      admin: ADMIN_MIGRATIONS,
      throttle: THROTTLE_MIGRATIONS,
      dkim: DKIM_MIGRATIONS,
    };
    for (const [name, list] of Object.entries(schemas)) {
      assert.deepEqual(
        r1[name]?.applied,
        list.map((m) => m.version),
        name,
      );
      assert.equal(r1[name]?.version, latest(list), name);
    }
    const second = await mailyard(["db", "migrate"], env);
    assert.equal(second.code, 0, second.err);
    for (const [name, list] of Object.entries(schemas))
      assert.match(second.out, new RegExp(`^${name}\\tversion ${latest(list)}\\tup to date$`, "m"));
  });
}

void test("offline directory and cluster commands work on PostgreSQL state", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-pgcli-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const url = await freshDatabase(t);
  const env = {
    MAILYARD_STATE_URL: url,
    MAILYARD_DATADIR: join(dir, "data"),
    MAILYARD_HTTP_LISTEN: "127.0.0.1:1",
  };
  const ok = async (args: string[]) => {
    const r = await mailyard(args, env);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
    return r.out;
  };
  await ok(["domain", "add", "example.test"]);
  await ok(["account", "add", "alice@example.test", "--password", "pw", "--quota", "5M"]);
  await ok(["alias", "add", "info@example.test", "alice@example.test"]);
  const accounts = JSON.parse(await ok(["account", "list", "--json"])) as {
    address: string;
    quotaBytes: number;
  }[];
  assert.deepEqual(
    accounts.map((a) => [a.address, a.quotaBytes]),
    [["alice@example.test", 5 * 1024 * 1024]],
  );
  const dup = await mailyard(["account", "add", "info@example.test", "--password", "pw"], env);
  assert.equal(dup.code, 1);
  assert.match(dup.err, /alias info@example\.test already exists/);
  assert.equal((await ok(["cluster", "members"])).trim(), "no members");
  await ok(["cluster", "home", "alice@example.test", "b1"]);
  assert.equal((await ok(["cluster", "home", "alice@example.test"])).trim(), "b1");
  // The password never shows up in what the CLI prints about where the state is.
  const bad = await mailyard(["domain", "list"], {
    ...env,
    MAILYARD_STATE_URL: "postgres://u:s3cret@127.0.0.1:1/x",
  });
  assert.equal(bad.code, 1);
  assert.doesNotMatch(bad.err + bad.out, /s3cret/);
  assert.match(bad.err, /^mailyard: state database unavailable: /);
  assert.doesNotMatch(bad.err, /\n {4}at /, "one line, no stack");
});
