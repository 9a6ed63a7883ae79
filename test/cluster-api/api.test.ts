// The cluster API over real loopback HTTP, mounted on the admin server, against a real SQLite
// directory: failover between backends, fail-closed when none answers, and refusal of every
// request (and every reply) that does not prove knowledge of the cluster secret.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createClusterDirectory, type ApiBackend } from "../../src/cluster/api/client.js";
import { signRequest } from "../../src/cluster/api/auth.js";
import { ClusterUnavailableError } from "../../src/cluster/api/types.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { freePort } from "../kit/ports.js";
import { SECRET, rawRequest, sqliteDirectory, startBackend, startSilentServer } from "./fixtures.js";

type After = { after(fn: () => Promise<void>): void };

function client(
  t: After,
  clock: FakeClock,
  backends: ApiBackend[],
  over: { secret?: string; timeoutMs?: number } = {},
) {
  const logs = memoryLogSink();
  const c = createClusterDirectory({
    backends: () => backends,
    secret: over.secret ?? SECRET,
    nodeId: "fe1",
    clock,
    timeoutMs: over.timeoutMs ?? 5000,
    cacheMs: 10_000,
    negativeCacheMs: 3000,
    maxEntries: 100,
    log: logs.for("CLUSTER"),
  });
  t.after(() => Promise.resolve(c.close()));
  return { c, logs: logs.records };
}

test("with the first backend refusing connections, every answer comes from the second", async (t) => {
  const clock = new FakeClock();
  const directory = await sqliteDirectory(t, clock);
  const b2 = await startBackend(t, { directory, clock, id: "b2" });
  const down = await freePort();
  const { c, logs } = client(t, clock, [
    { id: "b1", http: `127.0.0.1:${down}` },
    { id: "b2", http: `http://${b2.http}` },
  ]);

  const alice = await c.lookup("Alice@Example.test");
  assert.equal(alice.kind, "account");
  assert.ok(alice.kind === "account");
  assert.equal(alice.account.address, "alice@example.test");
  assert.deepEqual(alice.account.outFlow, { messages: 5, periodSeconds: 3600 });
  // Only the account's fields cross the wire (no password hash or anything else).
  assert.deepEqual(Object.keys(alice.account).sort(), [
    "address",
    "createdAt",
    "domain",
    "enabled",
    "inFlow",
    "localPart",
    "maxMessageSize",
    "outFlow",
    "quotaBytes",
    "usedBytes",
  ]);
  assert.deepEqual(await c.lookup("team@example.test"), {
    kind: "alias",
    alias: { address: "team@example.test", targets: ["alice@example.test", "carol@remote.test"] },
  });
  assert.deepEqual(await c.lookup("nobody@example.test"), { kind: "unknown" });
  assert.deepEqual(await c.lookup("someone@remote.test"), { kind: "remote" });
  assert.equal((await c.verifyPassword("bob@example.test", "bob-pw"))?.address, "bob@example.test");
  assert.equal(await c.verifyPassword("bob@example.test", "wrong"), null);
  assert.equal((await c.getAccount("off@example.test"))?.enabled, false);
  assert.equal(await c.getAccount("nobody@example.test"), null);
  await c.recordFlow("alice@example.test", "out", clock.now());
  await c.recordFlow("alice@example.test", "out", clock.now());
  assert.equal(await c.countFlow("alice@example.test", "out", clock.now() - 60_000), 2);
  assert.equal(await directory.countFlow("alice@example.test", "out", clock.now() - 60_000), 2);

  // The rotation starts calls at b1 too: each time it failed over.
  const failed = logs.filter((r) => r.text === "cluster api backend failed");
  assert.ok(failed.length >= 1);
  assert.ok(failed.every((r) => r.fields.backend === "b1"));
  // The password never reaches a log, on either side.
  assert.ok(!JSON.stringify([logs, b2.logs]).includes("bob-pw"));
});

test("a backend that accepts but never answers is abandoned after timeoutMs", async (t) => {
  const clock = new FakeClock();
  const directory = await sqliteDirectory(t, clock);
  const b2 = await startBackend(t, { directory, clock, id: "b2" });
  const hung = await startSilentServer(t);
  const { c } = client(
    t,
    clock,
    [
      { id: "hung", http: `127.0.0.1:${hung.port}` },
      { id: "b2", http: b2.http },
    ],
    { timeoutMs: 2000 },
  );
  const answer = c.lookup("alice@example.test");
  await hung.connected;
  clock.advance(2000);
  assert.equal((await answer).kind, "account");
});

test("no live backend, or none answering: ClusterUnavailableError, never a guess", async (t) => {
  const clock = new FakeClock();
  const none = client(t, clock, []);
  await assert.rejects(none.c.lookup("alice@example.test"), ClusterUnavailableError);
  const [p1, p2] = [await freePort(), await freePort()];
  const { c } = client(t, clock, [
    { id: "b1", http: `127.0.0.1:${p1}` },
    { id: "b2", http: `127.0.0.1:${p2}` },
  ]);
  await assert.rejects(c.lookup("alice@example.test"), ClusterUnavailableError);
  await assert.rejects(c.verifyPassword("alice@example.test", "alice-pw"), ClusterUnavailableError);
  await assert.rejects(c.getAccount("alice@example.test"), ClusterUnavailableError);
  await assert.rejects(c.countFlow("alice@example.test", "out", 0), ClusterUnavailableError);
  // A failure is not cached: the same question asks again (and fails again).
  await assert.rejects(c.lookup("alice@example.test"), /no backend answered \(b\d: .*; b\d: /);
});

test("requests without a valid proof get 401 and no data; the admin routes are untouched", async (t) => {
  const clock = new FakeClock();
  const directory = await sqliteDirectory(t, clock);
  const b = await startBackend(t, { directory, clock });
  const path = "/cluster/v1/lookup";
  const body = JSON.stringify({ address: "alice@example.test" });
  const json = { "content-type": "application/json" };

  const valid = await rawRequest(
    b.port,
    "POST",
    path,
    { ...json, ...signRequest(SECRET, "fe1", "b1", "POST", path, clock.now(), body) },
    body,
  );
  assert.equal(valid.status, 200);
  assert.match(valid.text, /alice@example\.test/);
  assert.match(String(valid.headers["x-mailyard-proof"]), /^[0-9a-f]{64}$/);

  const refused = [
    await rawRequest(b.port, "POST", path, json, body),
    await rawRequest(b.port, "GET", "/cluster/v1/anything", {}),
    await rawRequest(
      b.port,
      "POST",
      path,
      { ...json, ...signRequest("not-the-cluster-secret", "fe1", "b1", "POST", path, clock.now(), body) },
      body,
    ),
    await rawRequest(
      b.port,
      "POST",
      path,
      { ...json, ...signRequest(SECRET, "fe1", "b1", "POST", path, clock.now() - 16_000, body) },
      body,
    ),
    await rawRequest(
      b.port,
      "POST",
      path,
      { ...json, ...signRequest(SECRET, "fe1", "b1", "POST", path, clock.now(), body) },
      body.replace("alice", "bob"),
    ),
    await rawRequest(
      b.port,
      "POST",
      path,
      { ...json, ...signRequest(SECRET, "fe1", "b1", "POST", "/cluster/v1/account", clock.now(), body) },
      body,
    ),
  ];
  for (const r of refused) {
    assert.equal(r.status, 401);
    assert.doesNotMatch(r.text, /alice|bob|account/);
    assert.equal(r.headers["x-mailyard-proof"], undefined);
  }
  assert.ok(b.logs.filter((r) => r.text === "cluster api request refused").length >= refused.length);

  const big = await rawRequest(
    b.port,
    "POST",
    path,
    { ...json, ...signRequest(SECRET, "fe1", "b1", "POST", path, clock.now(), "x".repeat(70_000)) },
    "x".repeat(70_000),
  );
  assert.equal(big.status, 413);

  const signedGet = await rawRequest(
    b.port,
    "GET",
    path,
    signRequest(SECRET, "fe1", "b1", "GET", path, clock.now(), ""),
  );
  assert.equal(signedGet.status, 405);
  const unknownPath = "/cluster/v1/nope";
  assert.equal(
    (
      await rawRequest(
        b.port,
        "POST",
        unknownPath,
        signRequest(SECRET, "fe1", "b1", "POST", unknownPath, clock.now(), "{}"),
        "{}",
      )
    ).status,
    404,
  );
  const badBody = JSON.stringify({ address: 42 });
  assert.equal(
    (
      await rawRequest(
        b.port,
        "POST",
        path,
        signRequest(SECRET, "fe1", "b1", "POST", path, clock.now(), badBody),
        badBody,
      )
    ).status,
    400,
  );

  assert.equal((await rawRequest(b.port, "GET", "/healthz", {})).status, 200);
  assert.equal((await rawRequest(b.port, "GET", "/api/queue", {})).status, 401);
  assert.equal(
    (await rawRequest(b.port, "GET", "/api/queue", { authorization: `Bearer ${b.adminToken}` })).status,
    200,
  );
});

test("a client with the wrong secret gets nothing, and a backend without the secret is not believed", async (t) => {
  const clock = new FakeClock();
  const directory = await sqliteDirectory(t, clock);
  const real = await startBackend(t, { directory, clock });
  const wrong = client(t, clock, [{ id: "b1", http: real.http }], { secret: "not-the-cluster-secret" });
  await assert.rejects(wrong.c.verifyPassword("alice@example.test", "alice-pw"), ClusterUnavailableError);
  assert.ok(wrong.logs.some((r) => r.text.startsWith("cluster api backend refused our proof")));
  assert.ok(
    real.logs.some((r) => r.text === "cluster api request refused" && r.fields.reason === "bad proof"),
  );

  // An impostor on a backend's address answering "right password" without a reply proof.
  const impostor = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        account: {
          address: "alice@example.test",
          localPart: "alice",
          domain: "example.test",
          usedBytes: 0,
          createdAt: 0,
          enabled: true,
          quotaBytes: null,
          maxMessageSize: null,
          outFlow: null,
          inFlow: null,
        },
      }),
    );
  });
  await new Promise<void>((r) => impostor.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => impostor.close(() => r())));
  const fooled = client(t, clock, [
    { id: "impostor", http: `127.0.0.1:${(impostor.address() as AddressInfo).port}` },
  ]);
  await assert.rejects(fooled.c.verifyPassword("alice@example.test", "anything"), ClusterUnavailableError);
  assert.ok(fooled.logs.some((r) => r.text === "cluster api reply not authenticated"));
});

test("a captured signed request is refused when sent again, 5 and 14 s later, or to another backend; one dated 50 s ahead is refused", async (t) => {
  const clock = new FakeClock();
  const directory = await sqliteDirectory(t, clock);
  const b = await startBackend(t, { directory, clock });
  const path = "/cluster/v1/verify-password";
  const body = JSON.stringify({ address: "alice@example.test", password: "alice-pw" });
  const json = { "content-type": "application/json" };
  const captured = { ...json, ...signRequest(SECRET, "fe1", "b1", "POST", path, clock.now(), body) };

  const first = await rawRequest(b.port, "POST", path, captured, body);
  assert.equal(first.status, 200);
  assert.match(first.text, /alice@example\.test/);
  for (const later of [0, 5_000, 9_000]) {
    clock.advance(later);
    const again = await rawRequest(b.port, "POST", path, captured, body);
    assert.equal(again.status, 401, `replayed ${later} ms later`);
    assert.doesNotMatch(again.text, /alice/);
  }
  assert.ok(
    b.logs.some((r) => r.text === "cluster api request refused" && r.fields["reason"] === "replayed request"),
  );
  // Nor does it pass at another backend, which has not seen it: it names b1 as its receiver.
  const other = await startBackend(t, { directory, clock, id: "b2" });
  const elsewhere = await rawRequest(other.port, "POST", path, captured, body);
  assert.equal(elsewhere.status, 401);
  assert.ok(
    other.logs.some(
      (r) => r.text === "cluster api request refused" && r.fields["reason"] === "request for another member",
    ),
  );

  const ahead = { ...json, ...signRequest(SECRET, "fe1", "b1", "POST", path, clock.now() + 50_000, body) };
  const early = await rawRequest(b.port, "POST", path, ahead, body);
  assert.equal(early.status, 401);
  assert.doesNotMatch(early.text, /alice/);
  // A fresh request from the member still passes.
  const fresh = { ...json, ...signRequest(SECRET, "fe1", "b1", "POST", path, clock.now(), body) };
  assert.equal((await rawRequest(b.port, "POST", path, fresh, body)).status, 200);
});
