// A node's managed settings at run time: live keys written into the object the node's parts
// read, restart keys pending until the next start, bad rows logged and left alone, and the
// checks the schema cannot make (addresses, networks, "*" on frontends).
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../config/load.js";
import { settingsSchema } from "../config/settings.js";
import { memoryLogSink } from "../../test/kit/log.js";
import { checkManagedChange } from "../admin/managed-change.js";
import { createManagedSettings } from "./managed-settings.js";

const rows = (o: Record<string, unknown>) =>
  new Map(Object.entries(o).map(([k, v]) => [k, JSON.stringify(v)]));

void test("live keys change the running settings in place; restart keys wait, shown as pending", () => {
  const logs = memoryLogSink();
  const loaded = settingsSchema.parse({ smtp: { maxRecipients: 100, forwardTo: [] } });
  const m = createManagedSettings({
    loaded,
    pinned: new Set(["smtp.maxErrors"]),
    nodeId: "b1",
    rows: rows({ "config:smtp.maxRecipients": 50 }),
    log: logs.for("ADMIN"),
  });
  const running = m.settings;
  const smtpObject = running.smtp;
  assert.equal(running.smtp.maxRecipients, 50, "stored at start");

  m.update(
    rows({
      "config:smtp.maxRecipients": 50,
      "config:smtp.maxRecipients@b1": 3,
      "config:smtp.forwardTo@b1": ["relay.example.test:25"],
      "config:smtp.maxErrors": 2,
    }),
  );
  assert.equal(running.smtp.maxRecipients, 3, "this node's own value, live");
  assert.equal(running.smtp, smtpObject, "the same object the listeners hold");
  assert.deepEqual(running.smtp.forwardTo, [], "a restart key is not applied live");
  assert.equal(running.smtp.maxErrors, 10, "pinned by environment or --set");
  const entry = (key: string) => m.entries().find((e) => e.key === key)!;
  assert.deepEqual(
    { ...entry("smtp.maxRecipients") },
    {
      key: "smtp.maxRecipients",
      applies: "live",
      value: 3,
      source: "node",
      cluster: 50,
      node: 3,
      pending: false,
    },
  );
  assert.equal(entry("smtp.forwardTo").pending, true);
  assert.equal(entry("smtp.forwardTo").source, "node");
  assert.equal(entry("smtp.maxErrors").source, "environment or --set");
  assert.equal(entry("queue.maxConcurrency").source, "config");
  assert.ok(
    logs.records.some((r) => r.text === "setting applied" && r.fields["key"] === "smtp.maxRecipients"),
  );
  assert.ok(logs.records.some((r) => r.text === "setting stored, applies at restart"));

  // A row the schema refuses is logged and nothing of that table is applied.
  m.update(rows({ "config:smtp.maxRecipients": -5, "config:queue.maxConcurrency": 7 }));
  assert.equal(running.smtp.maxRecipients, 3);
  assert.equal(running.queue.maxConcurrency, 100);
  assert.ok(logs.records.some((r) => r.text === "stored settings not applied"));

  // Removed: back to the loaded value.
  m.update(rows({}));
  assert.equal(running.smtp.maxRecipients, 100);
  assert.equal(entry("smtp.forwardTo").pending, false);
});

void test("at start, a stored value that does not fit stops the node with the key to remove", () => {
  assert.throws(
    () =>
      createManagedSettings({
        loaded: settingsSchema.parse({}),
        pinned: new Set(),
        nodeId: "n",
        rows: rows({ "config:queue.maxConcurrency": "lots" }),
        log: memoryLogSink().for("ADMIN"),
      }),
    (e: unknown) =>
      e instanceof ConfigError && /mailyard settings unset queue.maxConcurrency/.test(e.message),
  );
});

void test('addresses and networks must parse; "*" only for a backend, never cluster-wide', () => {
  const refused = (
    key: string,
    value: unknown,
    scope: "cluster" | "node",
    role: string | undefined,
    re: RegExp,
  ) =>
    assert.throws(
      () => checkManagedChange(key, value, scope, role),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  refused("smtp.relayNetworks", ["10.0.0.0/33"], "cluster", undefined, /bad prefix length/);
  refused("smtp.relayNetworks", ["example.test"], "cluster", undefined, /not an IP address or CIDR/);
  refused("smtp.listen", ["127.0.0.1:99999"], "node", "frontend", /is not host:port/);
  refused("smtp.forwardTo", ["*"], "cluster", undefined, /per backend, not cluster-wide/);
  refused("smtp.forwardTo", ["*"], "node", "frontend", /this node is a frontend/);
  checkManagedChange("smtp.forwardTo", ["*"], "node", "backend");
  checkManagedChange("smtp.forwardTo", ["relay.example.test", "[::1]:2525"], "cluster");
  checkManagedChange("smtp.relayNetworks", ["10.0.0.0/8", "::1/128"], "cluster");
});
