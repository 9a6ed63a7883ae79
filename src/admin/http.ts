// The admin HTTP server: /healthz and /metrics (no auth, for probes and Prometheus) and the
// JSON admin API under /api/ (bearer token from <dataDir>/admin.token). Everything in a
// request is untrusted: the token is compared in constant time, bodies are size-limited JSON
// validated per route, and errors are JSON {error} with no internals (500s are logged).
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Settings } from "../config/settings.js";
import type { Directory } from "../directory/directory.js";
import type { Log } from "../log/logger.js";
import type { Queue } from "../queue/types.js";
import { errorResponse, match, type Route } from "./api.js";
import { directoryRoutes, type AccountHomes } from "./directory-routes.js";
import type { PromMetrics } from "./metrics.js";
import { queueRoutes } from "./queue-routes.js";
import { clusterRoutes } from "./cluster-routes.js";
import type { SubmitView } from "../cluster/submit/view.js";
import { rulesRoutes } from "./rules-routes.js";
import type { RuleStore } from "../rules/store.js";
import { tokenMatches } from "./token.js";

export { loadOrCreateAdminToken } from "./token.js";

/** Request bodies beyond this are refused (413); the API's bodies are a few hundred bytes. */
const MAX_BODY = 64 * 1024;

export interface AdminServerOptions {
  readonly settings: Settings;
  readonly queue: Queue;
  readonly directory: Directory;
  readonly metrics: PromMetrics;
  /** Tag ADMIN. */
  readonly log: Log;
  readonly token: string;
  readonly health: () => { ok: boolean; detail: Record<string, unknown> };
  /** Tried first: resolves true when it answered the request (the cluster API on backends). */
  readonly extra?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;
  /** Static cluster members: new accounts get a home backend. */
  readonly homes?: AccountHomes;
  /** Cluster members: the Queue Processing settings (null until the node has joined). */
  readonly submit?: () => SubmitView | null;
  /** The rule store: rule sets and Sieve scripts under /api/rules and /api/sieve. */
  readonly rules?: RuleStore;
}

export interface AdminServer {
  listen(host: string, port: number): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BodyError(413, "request body too large");
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BodyError(400, "request body is not JSON");
  }
}

export function createAdminServer(opts: AdminServerOptions): AdminServer {
  const { log } = opts;
  const routes: Route[] = [
    ...queueRoutes(opts.queue),
    ...directoryRoutes(opts.directory, opts.homes),
    ...(opts.submit !== undefined ? clusterRoutes(opts.submit) : []),
    ...(opts.rules ? rulesRoutes(opts.rules) : []),
  ];

  const api = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const auth = req.headers.authorization ?? "";
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
    if (bearer === undefined || !tokenMatches(bearer, opts.token)) {
      log.problem("admin request refused", {
        client: req.socket.remoteAddress,
        method: req.method,
        path: url.pathname,
      });
      send(
        res,
        401,
        { error: "authorization required: Authorization: Bearer <token from dataDir/admin.token>" },
        { "www-authenticate": "Bearer" },
      );
      return;
    }
    const method = req.method ?? "GET";
    const m = match(routes, method, url.pathname.slice("/api/".length));
    if (m === null) {
      send(res, 404, { error: `no such endpoint: ${url.pathname}` });
      return;
    }
    if ("allowed" in m) {
      send(res, 405, { error: `method ${method} not allowed here` }, { allow: m.allowed.join(", ") });
      return;
    }
    try {
      const body = method === "POST" || method === "PUT" || method === "PATCH" ? await readJson(req) : {};
      const out = await m.route.handler({ method, params: m.params, query: url.searchParams, body });
      if (method !== "GET") log.major("admin request", { method, path: url.pathname, status: out.status });
      send(res, out.status, out.body);
    } catch (e) {
      if (e instanceof BodyError) {
        send(res, e.status, { error: e.message });
        return;
      }
      const err = errorResponse(e);
      if (err.internal) log.failure("admin request failed", { method, path: url.pathname, error: String(e) });
      else
        log.low("admin request refused", {
          method,
          path: url.pathname,
          status: err.status,
          error: err.message,
        });
      send(res, err.status, { error: err.message });
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (opts.extra !== undefined && (await opts.extra(req, res))) return;
    const url = new URL(req.url ?? "/", "http://admin.invalid");
    if (url.pathname === "/healthz" && req.method === "GET") {
      const h = opts.health();
      send(res, h.ok ? 200 : 503, { ...h.detail, status: h.ok ? "ok" : "unavailable" });
      return;
    }
    if (url.pathname === "/metrics" && req.method === "GET") {
      const text = await opts.metrics.registry.metrics();
      res.writeHead(200, { "content-type": opts.metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (url.pathname.startsWith("/api/")) {
      await api(req, res, url);
      return;
    }
    send(res, 404, { error: "not found" });
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.failure("admin request failed", { path: req.url, error: String(e) });
      if (!res.headersSent) send(res, 500, { error: "internal error" });
      else res.destroy();
    });
  });
  // Slow or stuck clients must not hold sockets for long.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const a = server.address() as AddressInfo;
          log.major("admin listening", { address: a.address, port: a.port });
          resolve({ address: a.address, port: a.port });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
