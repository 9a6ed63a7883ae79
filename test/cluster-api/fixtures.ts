// Shared set-up for the cluster API tests: a backend (real SQLite directory in a temp dir, the
// API mounted on the real admin HTTP server on 127.0.0.1:0), a directory wrapper that counts
// what reaches the backend, and a raw HTTP helper for hand-made (hostile) requests.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAdminServer } from "../../src/admin/http.js";
import { createPromMetrics } from "../../src/admin/metrics.js";
import type { InboundDirectory } from "../../src/cluster/api/types.js";
import { clusterApiHandler } from "../../src/cluster/api/server.js";
import { settingsSchema } from "../../src/config/settings.js";
import type { Directory } from "../../src/directory/directory.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import type { Clock } from "../../src/world/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { fakeQueue } from "../kit/queue.js";

export const SECRET = "test-cluster-secret-0123456789";

type After = { after(fn: () => Promise<void>): void };

/** A populated SQLite directory in a temp dir, removed after the test. */
export async function sqliteDirectory(t: After, clock: Clock): Promise<Directory> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-capi-"));
  const directory = openSqliteDirectory(join(dir, "d.db"), clock);
  await directory.addDomain("example.test");
  await directory.addAccount("alice@example.test", "alice-pw", {
    outFlow: { messages: 5, periodSeconds: 3600 },
  });
  await directory.addAccount("bob@example.test", "bob-pw");
  await directory.addAccount("off@example.test", "off-pw", { enabled: false });
  await directory.addAlias("team@example.test", ["alice@example.test", "carol@remote.test"]);
  t.after(async () => {
    await directory.close();
    await rm(dir, { recursive: true, force: true });
  });
  return directory;
}

export interface Backend {
  readonly port: number;
  /** The address clients are given ("127.0.0.1:port"). */
  readonly http: string;
  readonly logs: ReturnType<typeof memoryLogSink>["records"];
  readonly adminToken: string;
  close(): Promise<void>;
}

/** The cluster API on the admin server, as a backend runs it. Stopped after the test. */
export async function startBackend(
  t: After,
  o: { directory: Directory; api?: InboundDirectory; clock: Clock; secret?: string; id?: string },
): Promise<Backend> {
  const logs = memoryLogSink();
  const queue = fakeQueue([]);
  const adminToken = "admin-token-for-tests";
  const server = createAdminServer({
    settings: settingsSchema.parse({}),
    queue,
    directory: o.directory,
    metrics: createPromMetrics({ queueSize: () => 0 }),
    log: logs.for("ADMIN"),
    token: adminToken,
    health: () => ({ ok: true, detail: {} }),
    extra: clusterApiHandler({
      directory: o.api ?? o.directory,
      secret: o.secret ?? SECRET,
      nodeId: o.id ?? "b1",
      clock: o.clock,
      log: logs.for("CLUSTER"),
    }),
  });
  const { port } = await server.listen("127.0.0.1", 0);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close();
  };
  t.after(close);
  return { port, http: `127.0.0.1:${port}`, logs: logs.records, adminToken, close };
}

/** Wraps a directory and records each call that reaches it ("lookup alice@example.test"). */
export function counting(inner: InboundDirectory): InboundDirectory & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    lookup: (a) => (calls.push(`lookup ${a}`), inner.lookup(a)),
    getAccount: (a) => (calls.push(`getAccount ${a}`), inner.getAccount(a)),
    verifyPassword: (a, p) => (calls.push(`verifyPassword ${a}`), inner.verifyPassword(a, p)),
    countFlow: (a, d, s) => (calls.push(`countFlow ${a}`), inner.countFlow(a, d, s)),
    recordFlow: (a, d, at) => (calls.push(`recordFlow ${a}`), inner.recordFlow(a, d, at)),
    senderGrants: (a) => (calls.push(`senderGrants ${a}`), inner.senderGrants(a)),
  };
}

export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

/** One HTTP request with exactly these headers and body, on a fresh connection. */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | Buffer = "",
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("raw request timed out")));
    req.end(body);
  });
}

/** A TCP server that accepts connections and never answers: a hung backend. */
export async function startSilentServer(t: After): Promise<{ port: number; connected: Promise<void> }> {
  const sockets = new Set<import("node:net").Socket>();
  let onConnect: () => void = () => undefined;
  const connected = new Promise<void>((r) => (onConnect = r));
  const server = http.createServer();
  server.on("connection", (s) => {
    sockets.add(s);
    onConnect();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as AddressInfo).port, connected };
}
