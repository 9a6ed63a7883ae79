// The admin API's three ways in, over real sockets: the bearer token, a WebAdmin session (cookie
// + CSRF token, expiring), and another member's request signed with the cluster secret, which
// reaches only the per-node paths; and /api/nodes/ID/... forwarded from one node to another.
// Two admin servers in-process (nodes "a" and "b"), each with its own in-memory queue.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAdminServer, loadOrCreateAdminToken } from "../../src/admin/http.js";
import { createPromMetrics } from "../../src/admin/metrics.js";
import type { MemberSummary } from "../../src/admin/node-routes.js";
import { createPeerCaller } from "../../src/admin/peers.js";
import { createSessionStore } from "../../src/admin/web/sessions.js";
import { openSqliteAdminStore } from "../../src/admin/web/sqlite-admin-store.js";
import { loginGates } from "../../src/server/login-gates.js";
import { openSqliteThrottleRows } from "../../src/state/sqlite-throttle.js";
import { settingsSchema } from "../../src/config/settings.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { TAGS } from "../../src/log/logger.js";
import { createLogRing } from "../../src/log/ring.js";
import { systemClock } from "../../src/world/clock.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeQueue } from "../kit/queue.js";

const SECRET = "api-auth-test-cluster-secret-01";
type After = { after(fn: () => Promise<void>): void };

async function twoNodes(t: After) {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-webapi-"));
  const statePath = join(dir, "state.db");
  const directory = openSqliteDirectory(statePath, systemClock);
  const stores: { close(): Promise<void> }[] = [];
  const adminStore = () => {
    const store = openSqliteAdminStore(statePath, systemClock);
    stores.push(store);
    return store;
  };
  await adminStore().users.add("admin", "admin-password");
  // Each node counts failed logins in the shared state, as separate processes do.
  const throttleRows = () => {
    const rows = openSqliteThrottleRows(statePath, systemClock);
    stores.push(rows);
    return rows;
  };
  const sessionClock = new FakeClock(Date.now());
  const ports = new Map<string, number>();
  const member = (id: string): MemberSummary => ({
    id,
    role: "backend",
    up: true,
    smtp: "",
    http: `127.0.0.1:${ports.get(id) ?? 0}`,
    channel: null,
    submitMessages: "default",
    queueSize: 0,
    lastHeartbeat: Date.now(),
    startedAt: Date.now(),
    drain: null,
  });
  const start = async (id: string) => {
    const queue = fakeQueue([`${id.toUpperCase()}1`]);
    const token = await loadOrCreateAdminToken(join(dir, id));
    // Each node opens the shared state itself, as separate processes do.
    const admin = adminStore();
    const server = createAdminServer({
      settings: settingsSchema.parse({ dataDir: join(dir, id), node: { id } }),
      queue,
      directory,
      metrics: createPromMetrics({ queueSize: () => queue.size() }),
      log: memoryLogSink().for("ADMIN"),
      token,
      health: () => ({ ok: true, detail: {} }),
      ring: createLogRing(100),
      web: {
        users: admin.users,
        sessions: createSessionStore({
          rows: admin.sessions,
          clock: sessionClock,
          idleMs: 60_000,
          maxMs: 600_000,
        }),
        gate: loginGates(
          settingsSchema.parse({
            webadmin: { loginFreeFailures: 3, loginLockSeconds: 1, loginMaxLockSeconds: 10 },
          }),
          systemClock,
          throttleRows(),
        ).admin,
        log: memoryLogSink().for("ADMIN"),
      },
      cluster: {
        self: id,
        role: "backend",
        kind: "static",
        secret: SECRET,
        members: () => Promise.resolve(["a", "b"].map(member)),
        memberHttp: (m) => Promise.resolve(ports.has(m) ? `127.0.0.1:${ports.get(m)}` : null),
      },
    });
    const { port } = await server.listen("127.0.0.1", 0);
    ports.set(id, port);
    return { id, port, token, queue, server, base: `http://127.0.0.1:${port}` };
  };
  const a = await start("a");
  const b = await start("b");
  t.after(async () => {
    await a.server.close();
    await b.server.close();
    for (const store of stores) await store.close();
    await directory.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { a, b, sessionClock };
}

const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> });

void test("a member's signed request reaches the per-node paths only; a forged one nothing", async (t) => {
  const { a, b } = await twoNodes(t);
  const asA = createPeerCaller({ secret: SECRET, nodeId: "a", clock: systemClock, timeoutMs: 5000 });
  const list = await asA.call("b", `127.0.0.1:${b.port}`, "GET", "/api/queue", Buffer.alloc(0));
  assert.equal(list.status, 200);
  assert.equal((list.body as { messages: { id: string }[] }).messages[0]?.id, "B1");
  const logs = await asA.call("b", `127.0.0.1:${b.port}`, "GET", "/api/logs?tags=ADMIN", Buffer.alloc(0));
  assert.equal(logs.status, 200);
  // The log viewer's tag filter comes from here: every tag the logger has, none copied by hand.
  assert.deepEqual((logs.body as { tags: string[] }).tags, [...TAGS]);

  for (const path of ["/api/accounts", "/api/domains", "/api/nodes/a/queue", "/api/cluster/members"]) {
    const r = await asA.call("b", `127.0.0.1:${b.port}`, "GET", path, Buffer.alloc(0));
    assert.equal(r.status, 403, path);
  }
  const forger = createPeerCaller({
    secret: "not-the-cluster-secret-at-all",
    nodeId: "a",
    clock: systemClock,
    timeoutMs: 5000,
  });
  await assert.rejects(
    forger.call("b", `127.0.0.1:${b.port}`, "GET", "/api/queue", Buffer.alloc(0)),
    /reply not authenticated/,
    "b refuses (401) and its refusal is not signed for the forger either",
  );
  const raw = await fetch(`${b.base}/api/queue`, {
    headers: {
      "x-mailyard-node": "a",
      "x-mailyard-time": String(Date.now()),
      "x-mailyard-proof": "0".repeat(64),
    },
  });
  assert.equal(raw.status, 401);
  assert.equal(a.queue.calls.length + b.queue.calls.length, 0, "nothing was done for the refused requests");
});

void test("/api/nodes/ID/... is answered here or forwarded to member ID", async (t) => {
  const { a, b } = await twoNodes(t);
  const auth = { authorization: `Bearer ${a.token}` };
  const remote = await json(await fetch(`${a.base}/api/nodes/b/queue`, { headers: auth }));
  assert.equal(remote.status, 200);
  assert.deepEqual(
    (remote.body["messages"] as { id: string }[]).map((m) => m.id),
    ["B1"],
  );
  const local = await json(await fetch(`${a.base}/api/nodes/a/queue`, { headers: auth }));
  assert.deepEqual(
    (local.body["messages"] as { id: string }[]).map((m) => m.id),
    ["A1"],
  );
  const held = await fetch(`${a.base}/api/nodes/b/queue/B1/hold`, { method: "POST", headers: auth });
  assert.equal(held.status, 200);
  assert.deepEqual(b.queue.calls, ["hold B1"]);
  assert.deepEqual(a.queue.calls, []);
  assert.equal((await fetch(`${a.base}/api/nodes/zz/queue`, { headers: auth })).status, 404);
  assert.equal((await fetch(`${a.base}/api/nodes/b/accounts`, { headers: auth })).status, 404);
  const settings = await json(await fetch(`${a.base}/api/nodes/b/settings`, { headers: auth }));
  const cluster = (settings.body["settings"] as { cluster: { secret: string } }).cluster;
  assert.equal(cluster.secret, "", "secrets are never shown (empty here: not set in these settings)");
});

void test("a browser session: login, CSRF on state changes, any member, expiry; the pages carry a strict CSP", async (t) => {
  const { a, b, sessionClock } = await twoNodes(t);
  const login = (body: unknown, type = "application/json") =>
    fetch(`${a.base}/admin/login`, {
      method: "POST",
      headers: { "content-type": type },
      body: JSON.stringify(body),
    });
  assert.equal((await login({ user: "admin", password: "admin-password" }, "text/plain")).status, 415);
  assert.equal((await login({ user: "admin" })).status, 400);
  assert.equal((await login({ user: "admin", password: "nope" })).status, 401);
  const ok = await login({ user: "admin", password: "admin-password" });
  assert.equal(ok.status, 200);
  const setCookie = ok.headers.get("set-cookie") ?? "";
  assert.match(
    setCookie,
    /^mailyard_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/,
  );
  const cookie = setCookie.split(";")[0]!;
  const { csrf } = (await ok.json()) as { csrf: string };

  const post = (headers: Record<string, string>) =>
    fetch(`${a.base}/api/domains`, {
      method: "POST",
      headers: { cookie, "content-type": "application/json", ...headers },
      body: JSON.stringify({ name: "web.test" }),
    });
  assert.equal((await fetch(`${a.base}/api/domains`, { headers: { cookie } })).status, 200);
  assert.equal((await post({})).status, 403);
  assert.equal((await post({ "x-csrf-token": csrf.slice(1) })).status, 403);
  assert.equal((await post({ "x-csrf-token": csrf })).status, 201);
  // Behind a load balancer the next request may reach another member: the session holds there.
  const onB = await fetch(`${b.base}/admin/session`, { headers: { cookie } });
  assert.equal(onB.status, 200, "a login on one member holds on another");
  assert.equal(((await onB.json()) as { csrf: string }).csrf, csrf);

  sessionClock.advance(60_001);
  assert.equal((await fetch(`${a.base}/api/domains`, { headers: { cookie } })).status, 401, "idle too long");

  const page = await fetch(`${a.base}/admin/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self';/);
  assert.equal(page.headers.get("x-frame-options"), "DENY");
  assert.match(await page.text(), /<script type="module" src="\/admin\/app.js">/);
  const lib = await fetch(`${a.base}/admin/vendor/preact-htm.js`);
  assert.equal(lib.status, 200);
  assert.match(await lib.text(), /export\{/);
  assert.equal((await fetch(`${a.base}/admin/..%2f..%2fpackage.json`)).status, 404);
  assert.equal((await fetch(`${a.base}/admin/index.html`)).status, 404, "only the fixed set of files");
});
