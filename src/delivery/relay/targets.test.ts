import { test } from "node:test";
import assert from "node:assert/strict";
import { settingsSchema } from "../../config/settings.js";
import type { Resolver } from "../../world/resolver.js";
import { resolveTargets } from "./targets.js";

// Forwarding never consults DNS; a resolver that is used fails the test.
const noDns: Resolver = {
  resolveMx: () => Promise.reject(new Error("DNS used")),
  resolveAddresses: () => Promise.reject(new Error("DNS used")),
  resolveTxt: () => Promise.reject(new Error("DNS used")),
  resolvePtr: () => Promise.reject(new Error("DNS used")),
};

const settings = (forwardTo: string[], forwardTls = "opportunistic") =>
  settingsSchema.parse({ smtp: { forwardTo, forwardTls } });

void test("forwardTo * expands to the live frontends, in the order given", async () => {
  const t = await resolveTargets("forward:*", settings(["*"]), noDns, () => [
    "127.0.0.1:2601",
    "127.0.0.2:2602",
  ]);
  assert.deepEqual(t, {
    kind: "hosts",
    hosts: [
      { name: "127.0.0.1", port: 2601, implicit: false, smarthost: false, member: true },
      { name: "127.0.0.2", port: 2602, implicit: false, smarthost: false, member: true },
    ],
  });
});

void test("forwardTo * with no live frontend is a temporary failure that says so", async () => {
  const t = await resolveTargets("forward:*", settings(["*"]), noDns, () => []);
  assert.equal(t.kind, "none");
  if (t.kind !== "none") return;
  assert.equal(t.permanent, false);
  assert.equal(t.reply.code, 451);
  assert.match(t.reply.text, /no live frontend/);
});

void test("fixed forwarding hosts and * mix; unreadable entries are skipped", async () => {
  // The settings refuse an unreadable entry at load; a frontend's address from the state may still be one.
  assert.throws(() => settings(["relay.test:2525", "bad host"]), /not host\[:port\] or \*/);
  const t = await resolveTargets("forward:*", settings(["relay.test:2525", "*"]), noDns, () => [
    "127.0.0.9:26",
    "bad host",
  ]);
  assert.equal(t.kind, "hosts");
  if (t.kind !== "hosts") return;
  assert.deepEqual(
    t.hosts.map((h) => `${h.name}:${h.port}${h.member === true ? " member" : ""}`),
    ["relay.test:2525", "127.0.0.9:26 member"],
  );
});

void test("configured entries are smarthosts, frontends for * are not; implicit TLS defaults to port 465", async () => {
  const list = ["relay.test", "relay2.test:587", "*"];
  const frontends = () => ["127.0.0.9:26"];
  for (const [tls, port] of [
    ["opportunistic", 25],
    ["starttls", 25],
    ["implicit", 465],
  ] as const) {
    const t = await resolveTargets("forward:*", settings(list, tls), noDns, frontends);
    assert.equal(t.kind, "hosts");
    if (t.kind !== "hosts") return;
    assert.deepEqual(
      t.hosts.map((h) => `${h.name}:${h.port}:${h.smarthost}`),
      [`relay.test:${port}:true`, "relay2.test:587:true", "127.0.0.9:26:false"],
      tls,
    );
  }
});
