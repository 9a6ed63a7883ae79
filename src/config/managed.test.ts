// Managed settings as values: where they are stored, how a node's own value wins over the
// cluster-wide one, how environment and --set win over both, and what is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "./load.js";
import {
  checkManagedValue,
  isManagedKey,
  overlayFor,
  storedKey,
  storedValues,
  withStored,
} from "./managed.js";
import { settingsSchema } from "./settings.js";

const rows = (o: Record<string, unknown>) =>
  new Map(Object.entries(o).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));

void test("stored values: cluster-wide and per node, a node's own over the cluster's; odd rows skipped", () => {
  assert.equal(storedKey("smtp.maxRecipients"), "config:smtp.maxRecipients");
  assert.equal(storedKey("smtp.maxRecipients", "b1"), "config:smtp.maxRecipients@b1");
  const table = rows({
    "config:smtp.maxRecipients": 50,
    "config:smtp.maxRecipients@b1": 20,
    "config:queue.firstRetrySeconds@b2": 30,
    "config:node.id": "x", // not managed
    "config:smtp.maxErrors": "{not json",
    "cluster.submitMessages@b1": "Remotely", // another setting in the same table
  });
  assert.deepEqual(
    storedValues(table).map((s) => [s.key, s.scope, s.node, s.value]),
    [
      ["smtp.maxRecipients", "cluster", null, 50],
      ["smtp.maxRecipients", "node", "b1", 20],
      ["queue.firstRetrySeconds", "node", "b2", 30],
    ],
  );
  assert.deepEqual([...overlayFor(table, "b1")], [["smtp.maxRecipients", { value: 20, scope: "node" }]]);
  assert.deepEqual(
    [...overlayFor(table, "b2")],
    [
      ["smtp.maxRecipients", { value: 50, scope: "cluster" }],
      ["queue.firstRetrySeconds", { value: 30, scope: "node" }],
    ],
  );
});

void test("laid over the loaded settings: stored beats the file, environment and --set beat stored", () => {
  const loaded = settingsSchema.parse({ smtp: { maxRecipients: 100, maxErrors: 7 } });
  const overlay = overlayFor(rows({ "config:smtp.maxRecipients": 5, "config:smtp.maxErrors": 3 }), "n1");
  const s = withStored(loaded, overlay, new Set(["smtp.maxErrors"]));
  assert.equal(s.smtp.maxRecipients, 5);
  assert.equal(s.smtp.maxErrors, 7, "pinned by environment or --set");
  assert.equal(loaded.smtp.maxRecipients, 100, "the loaded settings are not changed");
  assert.throws(
    () => withStored(loaded, overlayFor(rows({ "config:smtp.maxRecipients": -1 }), "n1")),
    (e: unknown) =>
      e instanceof ConfigError &&
      /stored setting smtp.maxRecipients is invalid.*settings unset/.test(e.message),
  );
});

void test("values are checked as the schema checks them; keys outside the managed set are refused", () => {
  assert.equal(isManagedKey("smtp.relayNetworks"), true);
  assert.equal(isManagedKey("state.url"), false);
  assert.deepEqual(checkManagedValue("smtp.relayNetworks", ["10.0.0.0/8"]), ["10.0.0.0/8"]);
  assert.equal(checkManagedValue("smtp.overQuota", "reject"), "reject");
  assert.equal(checkManagedValue("smtp.dmarcPolicy", "mark"), "mark");
  const refused = (key: string, value: unknown, re: RegExp) =>
    assert.throws(
      () => checkManagedValue(key, value),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      `${key}=${JSON.stringify(value)}`,
    );
  refused("smtp.maxRecipients", "ten", /invalid value for smtp.maxRecipients/);
  refused("smtp.maxRecipients", 0, /invalid value for smtp.maxRecipients/);
  refused("smtp.overQuota", "maybe", /invalid value for smtp.overQuota/);
  refused("smtp.spfFail", "drop", /invalid value for smtp.spfFail/);
  refused("queue.delayWarningSeconds", "3600", /invalid value for queue.delayWarningSeconds/);
  refused("state.url", "postgres://x", /state.url is not a setting managed here/);
  refused("dataDir", "/tmp", /not a setting managed here/);
});
