// The admin HTTP server over a real socket: health, metrics, auth, queue operations against an
// in-memory queue, directory operations against a real SQLite directory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../config/settings.js";
import { openSqliteDirectory } from "../directory/sqlite.js";
import { FakeClock } from "../../test/kit/clock.js";
import { memoryLogSink } from "../../test/kit/log.js";
import { fakeQueue } from "../../test/kit/queue.js";
import { createAdminServer, loadOrCreateAdminToken } from "./http.js";
import { createPromMetrics } from "./metrics.js";
import { tempDir } from "../../test/kit/temp-dir.js";

async function startAdmin(t: { after(fn: () => Promise<void>): void }, queueIds: string[] = ["Q1", "Q2"]) {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-admin-"));
  const directory = openSqliteDirectory(join(dataDir, "mailyard.db"), new FakeClock());
  const queue = fakeQueue(queueIds);
  const metrics = createPromMetrics({ queueSize: () => queue.size() });
  const logs = memoryLogSink();
  const token = await loadOrCreateAdminToken(dataDir);
  let healthy = true;
  const server = createAdminServer({
    settings: settingsSchema.parse({ dataDir }),
    queue,
    directory,
    metrics,
    log: logs.for("ADMIN"),
    token,
    health: () => ({ ok: healthy, detail: { queue: queue.size() } }),
  });
  const { port } = await server.listen("127.0.0.1", 0);
  t.after(async () => {
    await server.close();
    await directory.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown, auth = token) => {
    const res = await fetch(base + path, {
      method,
      headers: {
        authorization: `Bearer ${auth}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    // Replies are JSON objects, read field by field in the assertions.
    return { status: res.status, json: JSON.parse(text.startsWith("{") ? text : "null"), text };
  };
  return {
    dataDir,
    port,
    base,
    token,
    queue,
    metrics,
    logs,
    directory,
    call,
    setHealthy: (v: boolean) => (healthy = v),
  };
}

void test("admin token: 64 hex chars, mode 0600, stable across loads", async (t) => {
  const dir = await tempDir(t, "mailyard-token-");
  const a = await loadOrCreateAdminToken(dir);
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal((await stat(join(dir, "admin.token"))).mode & 0o777, 0o600);
  assert.equal(await loadOrCreateAdminToken(dir), a);
  assert.equal((await readFile(join(dir, "admin.token"), "utf8")).trim(), a);
});

void test("healthz: 200 when healthy, 503 when not; no auth needed", async (t) => {
  const a = await startAdmin(t);
  let res = await fetch(`${a.base}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { queue: 2, status: "ok" });
  a.setHealthy(false);
  res = await fetch(`${a.base}/healthz`);
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as { status: string }).status, "unavailable");
});

void test("metrics: Prometheus text with Mailyard's metrics and process metrics; no auth needed", async (t) => {
  const a = await startAdmin(t);
  a.metrics.messageReceived("smtp");
  a.metrics.recipientDelivered("local", 1500);
  a.metrics.recipientDeferred("remote");
  a.metrics.recipientBounced("remote");
  a.metrics.connectionOpened("smtp");
  a.metrics.connectionOpened("smtp");
  a.metrics.connectionClosed("smtp");
  const res = await fetch(`${a.base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
  const text = await res.text();
  for (const line of [
    'mailyard_messages_received_total{source="smtp"} 1',
    'mailyard_recipients_delivered_total{kind="local"} 1',
    'mailyard_recipients_deferred_total{kind="remote"} 1',
    'mailyard_recipients_bounced_total{kind="remote"} 1',
    "mailyard_queue_messages 2",
    'mailyard_connections_total{listener="smtp"} 2',
    'mailyard_connections_active{listener="smtp"} 1',
    'mailyard_delivery_delay_seconds_bucket{le="5",kind="local"} 1',
    'mailyard_delivery_delay_seconds_bucket{le="1",kind="local"} 0',
  ]) {
    assert.ok(text.includes(line), `missing: ${line}`);
  }
  assert.match(text, /^process_cpu_user_seconds_total /m);
});

void test("api: 401 without the right bearer token, and the refusal is logged", async (t) => {
  const a = await startAdmin(t);
  assert.equal((await fetch(`${a.base}/api/queue`)).status, 401);
  assert.equal((await a.call("GET", "/api/queue", undefined, "wrong")).status, 401);
  assert.equal((await a.call("GET", "/api/queue", undefined, a.token + "x")).status, 401);
  assert.equal((await a.call("DELETE", "/api/queue/Q1", undefined, "")).status, 401);
  assert.equal(a.queue.calls.length, 0);
  assert.ok(a.logs.records.some((r) => r.text === "admin request refused" && r.level === 3));
  assert.equal((await a.call("GET", "/api/queue")).status, 200);
});

void test("api queue: list, show, hold, release, retry, reject, delete; unknown ids are 404", async (t) => {
  const a = await startAdmin(t);
  const list = await a.call("GET", "/api/queue");
  assert.equal(list.json.size, 2);
  assert.deepEqual(
    (list.json.messages as { id: string }[]).map((m) => m.id),
    ["Q1", "Q2"],
  );
  assert.equal((await a.call("GET", "/api/queue/Q1")).json.recipients[0].address, "rcpt@remote.test");
  assert.equal((await a.call("GET", "/api/queue/NOPE")).status, 404);
  assert.equal((await a.call("POST", "/api/queue/Q1/hold")).status, 200);
  assert.equal((await a.call("GET", "/api/queue/Q1")).json.state, "held");
  assert.equal((await a.call("POST", "/api/queue/Q1/release")).status, 200);
  assert.equal((await a.call("POST", "/api/queue/Q1/retry")).status, 200);
  assert.equal((await a.call("POST", "/api/queue/NOPE/retry")).status, 404);
  assert.equal((await a.call("POST", "/api/queue/Q1/reject", { text: "spam" })).status, 200);
  assert.equal((await a.call("POST", "/api/queue/Q2/reject", { text: "two\r\nlines" })).status, 400);
  assert.equal((await a.call("POST", "/api/queue/Q2/reject", { txt: "typo" })).status, 400);
  assert.equal((await a.call("POST", "/api/queue/Q2/reject", "{not json")).status, 400);
  assert.equal((await a.call("DELETE", "/api/queue/Q2")).status, 200);
  assert.equal((await a.call("DELETE", "/api/queue/Q2")).status, 404);
  assert.equal((await a.call("PUT", "/api/queue/Q2")).status, 405);
  assert.equal((await a.call("GET", "/api/nothing")).status, 404);
  assert.deepEqual(a.queue.calls, [
    "hold Q1",
    "release Q1",
    "retry Q1",
    "retry NOPE",
    "reject Q1 spam",
    "delete Q2",
    "delete Q2",
  ]);
  assert.equal((await a.call("GET", "/api/queue")).json.size, 0);
});

void test("api directory: domains, accounts and aliases with 201/404/409/400", async (t) => {
  const a = await startAdmin(t);
  assert.equal((await a.call("POST", "/api/domains", { name: "example.test" })).status, 201);
  assert.equal((await a.call("POST", "/api/domains", { name: "example.test" })).status, 409);
  assert.equal((await a.call("POST", "/api/domains", {})).status, 400);
  assert.deepEqual((await a.call("GET", "/api/domains")).json, { domains: ["example.test"] });
  assert.equal((await a.call("GET", "/api/domains/example.test")).status, 200);
  assert.equal((await a.call("GET", "/api/domains/other.test")).status, 404);

  const created = await a.call("POST", "/api/accounts", {
    address: "User@Example.test",
    password: "secret-pw",
    quotaBytes: 1_000_000,
    outFlow: { messages: 10, periodSeconds: 60 },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.address, "user@example.test");
  assert.equal(created.json.quotaBytes, 1_000_000);
  assert.equal(created.text.includes("secret-pw"), false);
  assert.equal(
    (await a.call("POST", "/api/accounts", { address: "user@example.test", password: "x" })).status,
    409,
  );
  assert.equal(
    (await a.call("POST", "/api/accounts", { address: "a@example.test", password: "x", quotaBytes: -1 }))
      .status,
    400,
  );
  assert.equal((await a.call("GET", "/api/accounts/user%40example.test")).json.outFlow.messages, 10);
  assert.equal((await a.call("GET", "/api/accounts/nobody@example.test")).status, 404);
  const patched = await a.call("PATCH", "/api/accounts/user@example.test", {
    enabled: false,
    quotaBytes: null,
    password: "new-pw",
  });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.json.enabled, false);
  assert.equal(patched.json.quotaBytes, null);
  assert.notEqual(await a.directory.verifyPassword("user@example.test", "new-pw"), null);
  assert.equal((await a.call("GET", "/api/accounts?domain=example.test")).json.accounts.length, 1);

  assert.equal(
    (
      await a.call("POST", "/api/aliases", {
        address: "info@example.test",
        targets: ["user@example.test", "x@remote.test"],
      })
    ).status,
    201,
  );
  assert.equal(
    (await a.call("POST", "/api/aliases", { address: "info@example.test", targets: [] })).status,
    400,
  );
  assert.deepEqual((await a.call("GET", "/api/aliases")).json.aliases, [
    { address: "info@example.test", targets: ["user@example.test", "x@remote.test"] },
  ]);
  assert.equal((await a.call("DELETE", "/api/domains/example.test")).status, 400);
  assert.equal((await a.call("DELETE", "/api/aliases/info@example.test")).status, 200);
  assert.equal((await a.call("DELETE", "/api/accounts/user@example.test")).status, 200);
  assert.equal((await a.call("DELETE", "/api/accounts/user@example.test")).status, 404);
  assert.equal((await a.call("DELETE", "/api/domains/example.test")).status, 200);
  assert.deepEqual((await a.call("GET", "/api/domains")).json, { domains: [] });
  assert.ok(a.logs.records.some((r) => r.text === "admin request" && r.fields["path"] === "/api/domains"));
  assert.equal(JSON.stringify(a.logs.records).includes("new-pw"), false);
});
