// The DKIM and milter routes of the admin API over a real socket, a real SQLite key store and
// real metrics: keys generated, listed and removed with their TXT records, the private key in
// no answer and no log line; callers without the admin token (none, a wrong one, another
// cluster member signing with the cluster secret) refused; the milters as configured, with
// their counters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, sign, verify } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema } from "../config/settings.js";
import { dnsRecord } from "../delivery/dkim/keys.js";
import { openSqliteDkimStore } from "../delivery/dkim/sqlite-store.js";
import { openSqliteDirectory } from "../directory/sqlite.js";
import { FakeClock } from "../../test/kit/clock.js";
import { memoryLogSink } from "../../test/kit/log.js";
import { fakeQueue } from "../../test/kit/queue.js";
import { createAdminServer, loadOrCreateAdminToken } from "./http.js";
import { createPromMetrics } from "./metrics.js";
import { createPeerCaller } from "./peers.js";
import { serveAdmin } from "../../test/kit/admin-api.js";

const SECRET = "dkim-routes-test-cluster-secret-1";
type After = { after(fn: () => Promise<void>): void };

async function node(t: After, settings: Record<string, unknown> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-admin-dkim-"));
  const path = join(dataDir, "mailyard.db");
  const clock = new FakeClock(Date.UTC(2026, 4, 17, 12));
  const directory = openSqliteDirectory(path, clock);
  const dkim = openSqliteDkimStore(path, () => clock.now());
  const token = await loadOrCreateAdminToken(dataDir);
  const logs = memoryLogSink();
  const metrics = createPromMetrics({ queueSize: () => 0 });
  const server = createAdminServer({
    settings: settingsSchema.parse({ dataDir, node: { id: "n1" }, ...settings }),
    queue: fakeQueue([]),
    directory,
    metrics,
    log: logs.for("ADMIN"),
    token,
    clock,
    health: () => ({ ok: true, detail: {} }),
    dkim,
    cluster: {
      self: "n1",
      role: "frontend",
      kind: "static",
      secret: SECRET,
      members: () => Promise.resolve([]),
      memberHttp: () => Promise.resolve(null),
    },
  });
  const texts: string[] = [];
  const { port, call } = await serveAdmin(t, server, {
    token,
    dataDir,
    stores: [dkim, directory],
    seen: texts,
  });
  return { port, dkim, logs, metrics, call, texts, clock };
}

void test("DKIM keys over the admin API: generate, list, remove; never the private key", async (t) => {
  const n = await node(t);
  const rsa = await n.call("POST", "dkim", { domain: "Example.TEST." });
  assert.equal(rsa.status, 201, JSON.stringify(rsa.json));
  // The default selector comes from the node's clock, as `mailyard dkim keygen`'s does.
  assert.deepEqual(Object.keys(rsa.json).sort(), [
    "algorithm",
    "created",
    "dnsName",
    "domain",
    "record",
    "selector",
  ]);
  assert.equal(rsa.json["domain"], "example.test");
  assert.equal(rsa.json["selector"], "my202605");
  assert.equal(rsa.json["algorithm"], "rsa");
  assert.equal(rsa.json["created"], Date.UTC(2026, 4, 17, 12));
  assert.equal(rsa.json["dnsName"], "my202605._domainkey.example.test");
  assert.match(String(rsa.json["record"]), /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);

  const ed = await n.call("POST", "dkim", { domain: "example.test", selector: "Ed1", algorithm: "ed25519" });
  assert.equal(ed.status, 201);
  assert.match(String(ed.json["record"]), /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);

  // The record answered is the stored key's: what the stored private key signs, p= verifies.
  const stored = await n.dkim.keysOf("example.test");
  assert.equal(stored.length, 2);
  const rsaKey = stored.find((k) => k.algorithm === "rsa")!;
  assert.equal(rsa.json["record"], dnsRecord(rsaKey));
  const p = String(rsa.json["record"]).split("p=")[1]!;
  const publicKey = createPublicKey({ key: Buffer.from(p, "base64"), format: "der", type: "spki" });
  const signature = sign("sha256", Buffer.from("x"), rsaKey.privateKey);
  assert.ok(verify("sha256", Buffer.from("x"), publicKey, signature));

  assert.equal((await n.call("POST", "dkim", { domain: "example.test", selector: "ed1" })).status, 409);
  for (const bad of [
    { domain: "no-dot" },
    { domain: "example.test", selector: "bad selector" },
    { domain: "example.test", algorithm: "dsa" },
    { domain: "example.test", privateKey: "-----BEGIN PRIVATE KEY-----" },
    {},
  ]) {
    const r = await n.call("POST", "dkim", bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
  }

  const list = await n.call("GET", "dkim");
  assert.equal(list.status, 200);
  assert.deepEqual(
    (list.json["keys"] as { domain: string; selector: string; record: string }[]).map(
      (k) => `${k.domain} ${k.selector} ${k.record.slice(0, 15)}`,
    ),
    ["example.test ed1 v=DKIM1; k=ed25", "example.test my202605 v=DKIM1; k=rsa;"],
  );

  assert.deepEqual(await n.call("DELETE", "dkim/example.test/ed1"), {
    status: 200,
    json: { removed: { domain: "example.test", selector: "ed1" } },
  });
  assert.equal((await n.call("DELETE", "dkim/example.test/ed1")).status, 404);
  assert.equal((await n.dkim.keysOf("example.test")).length, 1);

  // No answer and no log record carries any part of a private key.
  const secrets = stored.map((k) => k.privateKey);
  const logged = JSON.stringify(n.logs.records);
  for (const text of [...n.texts, logged]) {
    assert.doesNotMatch(text, /PRIVATE KEY/);
    for (const s of secrets) {
      const body = s.split("\n").slice(1, -2).join("");
      assert.ok(!text.includes(body.slice(0, 40)), "a private key's base64 is in an answer or log");
    }
  }
});

void test("DKIM keys: refused without the admin token and to other members", async (t) => {
  const n = await node(t);
  assert.equal((await n.call("POST", "dkim", { domain: "example.test" })).status, 201);
  for (const auth of ["", "Bearer not-the-token", "Basic YWRtaW46YWRtaW4="]) {
    for (const [method, path, body] of [
      ["GET", "dkim", undefined],
      ["POST", "dkim", { domain: "other.test" }],
      ["DELETE", "dkim/example.test/my202605", undefined],
    ] as const) {
      const r = await n.call(method, path, body, auth);
      assert.equal(r.status, 401, `${auth} ${method} ${path}`);
      assert.equal(r.json["keys"], undefined);
    }
  }
  // Another member holds the cluster secret, not the admin's token: the keys are not its to read.
  const peer = createPeerCaller({ secret: SECRET, nodeId: "n2", clock: n.clock, timeoutMs: 5000 });
  const at = `127.0.0.1:${n.port}`;
  for (const [method, path, body] of [
    ["GET", "/api/dkim", ""],
    ["POST", "/api/dkim", JSON.stringify({ domain: "other.test" })],
    ["DELETE", "/api/dkim/example.test/my202605", ""],
    ["GET", "/api/nodes/n1/dkim", ""],
  ] as const) {
    const r = await peer.call("n1", at, method, path, Buffer.from(body));
    assert.ok(r.status === 403 || r.status === 404, `${method} ${path}: ${r.status}`);
    assert.equal(JSON.stringify(r.body).includes("v=DKIM1"), false);
  }
  assert.deepEqual(
    (await n.dkim.list()).map((k) => `${k.domain} ${k.selector}`),
    ["example.test my202605"],
    "nothing added or removed by the refused requests",
  );
});

void test("milters over the admin API: each entry's options resolved, with its counters", async (t) => {
  const n = await node(t, {
    role: "frontend",
    cluster: { secret: SECRET },
    smtp: {
      milters: [
        "inet:127.0.0.1:11332 events=mail+rcpt defaultAction=accept contentTimeout=60",
        "unix:/run/c.ctl",
      ],
      milterCommandTimeoutSeconds: 20,
    },
  });
  n.metrics.milterAction?.("inet:127.0.0.1:11332", "accept");
  n.metrics.milterAction?.("inet:127.0.0.1:11332", "accept");
  n.metrics.milterAction?.("inet:127.0.0.1:11332", "reject");
  n.metrics.milterFailure?.("unix:/run/c.ctl", "timeout");
  const r = await n.call("GET", "milters");
  assert.deepEqual(r, {
    status: 200,
    json: {
      node: "n1",
      role: "frontend",
      runs: true,
      defaultAction: "tempfail",
      milters: [
        {
          name: "inet:127.0.0.1:11332",
          events: ["connect", "mail", "rcpt", "eom"],
          defaultAction: "accept",
          connectTimeoutSeconds: 30,
          commandTimeoutSeconds: 20,
          contentTimeoutSeconds: 60,
          actions: { accept: 2, reject: 1 },
          failures: {},
        },
        {
          name: "unix:/run/c.ctl",
          events: ["connect", "helo", "mail", "rcpt", "header", "body", "eom"],
          defaultAction: "tempfail",
          connectTimeoutSeconds: 30,
          commandTimeoutSeconds: 20,
          contentTimeoutSeconds: 300,
          actions: {},
          failures: { timeout: 1 },
        },
      ],
    },
  });
  // Per node, so any member's WebAdmin shows this node's milters (as it shows its settings).
  const peer = createPeerCaller({ secret: SECRET, nodeId: "n2", clock: n.clock, timeoutMs: 5000 });
  const viaPeer = await peer.call("n1", `127.0.0.1:${n.port}`, "GET", "/api/milters", Buffer.alloc(0));
  assert.equal(viaPeer.status, 200);
  assert.equal((viaPeer.body as { milters: unknown[] }).milters.length, 2);
});
