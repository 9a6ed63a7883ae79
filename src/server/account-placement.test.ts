// The account routes of the admin API with each cluster kind's placement, over a real socket,
// a real SQLite directory and cluster state, and a fake clock: a static cluster's accounts show
// their home backend; a dynamic cluster's show the backend holding the lease (node, token,
// expiry) until the lease runs out on the node's clock, then null; a single server neither.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAdminServer, loadOrCreateAdminToken } from "../admin/http.js";
import type { AccountHomes, AccountOwners } from "../cluster/account-placement.js";
import { openSqliteClusterState } from "../cluster/sqlite-state.js";
import { isLease, type ClusterState } from "../cluster/state.js";
import { openSqliteDirectory } from "../directory/sqlite.js";
import { FakeClock } from "../../test/kit/clock.js";
import { memoryLogSink } from "../../test/kit/log.js";
import { leaseOwners, staticHomes } from "../cluster/account-placement.js";
import { adminOptions, serveAdmin } from "../../test/kit/admin-api.js";

type After = { after(fn: () => Promise<void>): void };
type Json = Record<string, unknown>;

/** The cluster state, counting the calls of each method (to see one query per page). */
function counted(state: ClusterState): { state: ClusterState; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(state, {
    get(target, key, receiver) {
      const v: unknown = Reflect.get(target, key, receiver);
      if (typeof v !== "function" || typeof key !== "string") return v;
      return (...args: unknown[]) => {
        calls.set(key, (calls.get(key) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { state: proxy, calls };
}

async function startAdmin(
  t: After,
  place: (state: ClusterState, clock: FakeClock) => { homes?: AccountHomes; owners?: AccountOwners },
) {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-placement-"));
  const path = join(dataDir, "mailyard.db");
  const clock = new FakeClock();
  const directory = openSqliteDirectory(path, clock);
  const raw = openSqliteClusterState(path, clock);
  const { state, calls } = counted(raw);
  const token = await loadOrCreateAdminToken(dataDir);
  const server = createAdminServer({
    ...adminOptions({ dataDir, directory, token }),
    clock,
    ...place(state, clock),
  });
  const { call } = await serveAdmin(t, server, { token, dataDir, stores: [raw, directory] });
  /** address → the field the page shows (home or owner), from one page of the list. */
  const page = async (field: "home" | "owner"): Promise<{ kind: unknown; of: Map<string, unknown> }> => {
    const r = await call("GET", "accounts?offset=0&limit=20");
    assert.equal(r.status, 200);
    const accounts = r.json["accounts"] as Json[];
    return { kind: r.json["kind"], of: new Map(accounts.map((a) => [a["address"] as string, a[field]])) };
  };
  assert.equal((await call("POST", "domains", { name: "example.test" })).status, 201);
  return { clock, state, calls, call, page };
}

const member = (id: string, startedAt: number) => ({
  id,
  role: "backend" as const,
  smtp: "127.0.0.1:25",
  http: "127.0.0.1:8080",
  channel: "127.0.0.1:2424",
  submitMessages: "default",
  startedAt,
});

void test("static cluster: each account's home backend in the list and the account", async (t) => {
  const a = await startAdmin(t, (state) => ({
    homes: staticHomes({ state, liveBackends: () => ["b1", "b2"], log: memoryLogSink().for("CLUSTER") }),
  }));
  await a.state.register(member("b1", a.clock.now()));
  await a.state.register(member("b2", a.clock.now()));
  const made = await a.call("POST", "accounts", {
    address: "ann@example.test",
    password: "pw-1",
    home: "b2",
  });
  assert.equal(made.status, 201);
  assert.equal(made.json["home"], "b2");
  assert.equal(
    (await a.call("POST", "accounts", { address: "bob@example.test", password: "pw-2" })).status,
    201,
  );
  // An account from before homes were kept: no home.
  assert.equal(
    (await a.call("POST", "accounts", { address: "cid@example.test", password: "pw-3" })).status,
    201,
  );
  await a.state.clearHome("cid@example.test");

  const p = await a.page("home");
  assert.equal(p.kind, "static");
  assert.equal(p.of.get("ann@example.test"), "b2");
  assert.equal(p.of.get("bob@example.test"), await a.state.homeOf("bob@example.test"));
  assert.ok(["b1", "b2"].includes(p.of.get("bob@example.test") as string));
  assert.equal(p.of.get("cid@example.test"), null);

  const one = await a.call("GET", "accounts/Ann@example.test");
  assert.equal(one.json["kind"], "static");
  assert.equal(one.json["home"], "b2");
  assert.equal((await a.call("GET", "accounts/cid@example.test")).json["home"], null);
  assert.equal((await a.call("PATCH", "accounts/ann@example.test", { home: "b1" })).json["home"], "b1");
  assert.equal((await a.call("GET", "accounts/ann@example.test")).json["home"], "b1");
});

void test("dynamic cluster: the lease holder (node, token, expiry) until it expires, then null", async (t) => {
  const a = await startAdmin(t, (state, clock) => ({ owners: leaseOwners(state, clock) }));
  for (const address of ["ann@example.test", "bob@example.test", "cid@example.test"])
    assert.equal((await a.call("POST", "accounts", { address, password: "pw-1" })).status, 201);
  // Nobody has opened anything yet.
  const before = await a.page("owner");
  assert.equal(before.kind, "dynamic");
  assert.deepEqual([...before.of.values()], [null, null, null]);

  const lease = await a.state.acquireLease("bob@example.test", "b2", a.clock.now(), 30_000);
  assert.ok(isLease(lease));
  const other = await a.state.acquireLease("cid@example.test", "b1", a.clock.now(), 60_000);
  assert.ok(isLease(other));
  a.calls.clear();
  const held = await a.page("owner");
  assert.deepEqual(held.of.get("bob@example.test"), {
    node: "b2",
    token: lease.token,
    expiresAt: lease.expiresAt,
  });
  assert.deepEqual(held.of.get("cid@example.test"), {
    node: "b1",
    token: other.token,
    expiresAt: other.expiresAt,
  });
  assert.equal(held.of.get("ann@example.test"), null);
  // One query for the whole page, none per account.
  assert.equal(a.calls.get("leases"), 1);
  assert.equal(a.calls.get("leaseOf"), undefined);

  const one = await a.call("GET", "accounts/BOB@example.test");
  assert.equal(one.json["kind"], "dynamic");
  assert.deepEqual(one.json["owner"], { node: "b2", token: lease.token, expiresAt: lease.expiresAt });

  // Past bob's expiry on the node's clock (cid's still runs): bob is free again.
  a.clock.advance(30_001);
  const later = await a.page("owner");
  assert.equal(later.of.get("bob@example.test"), null);
  assert.equal((later.of.get("cid@example.test") as Json)["node"], "b1");
  assert.equal((await a.call("GET", "accounts/bob@example.test")).json["owner"], null);
  // Taken by another backend: a new owner with a greater token.
  const taken = await a.state.acquireLease("bob@example.test", "b1", a.clock.now(), 30_000);
  assert.ok(isLease(taken));
  assert.ok(taken.token > lease.token);
  assert.deepEqual((await a.call("GET", "accounts/bob@example.test")).json["owner"], {
    node: "b1",
    token: taken.token,
    expiresAt: taken.expiresAt,
  });
});

void test("single server: neither home nor owner", async (t) => {
  const a = await startAdmin(t, () => ({}));
  assert.equal(
    (await a.call("POST", "accounts", { address: "ann@example.test", password: "pw-1" })).status,
    201,
  );
  const p = await a.page("owner");
  assert.equal(p.kind, "single");
  assert.equal(p.of.has("ann@example.test"), true);
  assert.equal(p.of.get("ann@example.test"), undefined);
  const one = await a.call("GET", "accounts/ann@example.test");
  assert.equal(one.json["kind"], "single");
  assert.equal("owner" in one.json || "home" in one.json, false);
});
