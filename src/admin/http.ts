// The admin HTTP server: /healthz and /metrics (no auth, for probes and Prometheus), the JSON
// admin API under /api/, and the WebAdmin pages under /admin/. An API request is authenticated
// one of three ways: the bearer token from <dataDir>/admin.token (the CLI), a WebAdmin session
// cookie plus the session's CSRF token on every state-changing request (the browser), or a
// request signed with the cluster secret by another member (peers.ts; only the per-node paths,
// so any node's WebAdmin can show another node's queue). Everything in a request is untrusted:
// secrets are compared in constant time, bodies are size-limited JSON validated per route, and
// errors are JSON {error} with no internals (500s are logged).
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Settings } from "../config/settings.js";
import type { Directory } from "../directory/directory.js";
import type { Log } from "../log/logger.js";
import type { LogRing } from "../log/ring.js";
import type { Queue } from "../queue/types.js";
import type { Clock } from "../world/clock.js";
import { systemClock } from "../world/clock.js";
import { jsonBody, readBounded } from "../world/bounded-body.js";
import { requestReplayGuard } from "../cluster/api/auth.js";
import type { AccountHomes, AccountOwners } from "../cluster/account-placement.js";
import { memberRequestRefusal, sniffingListener } from "../cluster/tls/http-side.js";
import type { MemberTls } from "../cluster/tls/member-tls.js";
import { errorResponse, match, type Route } from "../http/api.js";
import { directoryRoutes } from "./directory-routes.js";
import type { PromMetrics } from "./metrics.js";
import { nodeRoutes, type ClusterView } from "./node-routes.js";
import {
  checkPeerRequest,
  createPeerCaller,
  peerPathAllowed,
  peerReplyHeaders,
  type PeerClaim,
} from "./peers.js";
import { queueRoutes } from "./queue-routes.js";
import { clusterRoutes } from "./cluster-routes.js";
import { drainRoutes, type DrainOps } from "./drain-routes.js";
import { configRoutes, type ConfigWriter } from "./config-routes.js";
import type { ManagedEntry } from "../config/managed.js";
import type { SubmitView } from "../cluster/submit/view.js";
import { rulesRoutes } from "./rules-routes.js";
import { dkimRoutes } from "./dkim-routes.js";
import { milterRoutes } from "./milter-routes.js";
import type { DkimKeyStore } from "../delivery/dkim/store.js";
import type { RuleStore } from "../rules/store.js";
import { tokenMatches } from "../http/bearer.js";
import { loadAssets, type Asset } from "./web/assets.js";
import { csrfOk, login, logout, sessionOf, whoami, type WebAuth } from "./web/login.js";

export { loadOrCreateAdminToken } from "./token.js";

/** Request bodies beyond this are refused (413); the API's bodies are a few hundred bytes. */
const MAX_BODY = 64 * 1024;
const PEER_TIMEOUT_MS = 10_000;

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
  /** Dynamic cluster members: the account pages show each account's current owner (lease). */
  readonly owners?: AccountOwners;
  /** Managed settings: what this node runs with (GET settings) and the writer (PUT config). */
  readonly config?: { entries(): ManagedEntry[] } & ConfigWriter;
  /** The WebAdmin's logins and sessions; without it /admin/ is not served. */
  readonly web?: WebAuth;
  /** Cluster members: the whole cluster's view, and other members' per-node API (signed). */
  readonly cluster?: ClusterView & {
    readonly secret: string;
    /** Cluster TLS: peers' requests only over it, from the member they name (cluster/tls/http-side.ts). */
    readonly memberTls?: MemberTls | null;
    memberHttp(id: string): Promise<string | null>;
  };
  /** Recent log records (the log viewer). */
  readonly ring?: LogRing;
  /** The header section of a queued message (message details), or null. */
  readonly headers?: (id: string) => Promise<string | null>;
  readonly clock?: Clock;
  /** Cluster members: the Queue Processing settings (null until the node has joined). */
  readonly submit?: () => SubmitView | null;
  /** Cluster members: drain and undrain (a single server refuses them). */
  readonly drain?: DrainOps;
  /** The rule store: rule sets and Sieve scripts under /api/rules and /api/sieve. */
  readonly rules?: RuleStore;
  /** The DKIM signing keys in the shared state: /api/dkim (never the private keys). */
  readonly dkim?: DkimKeyStore;
}

export interface AdminServer {
  listen(host: string, port: number): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

type Caller =
  | { readonly kind: "token" }
  | { readonly kind: "session"; readonly user: string }
  | { readonly kind: "peer"; readonly claim: PeerClaim };

const callerName = (c: Caller): string =>
  c.kind === "token" ? "token" : c.kind === "session" ? `admin:${c.user}` : `node:${c.claim.node}`;

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

async function readRaw(req: http.IncomingMessage): Promise<Buffer> {
  const body = await readBounded(req, MAX_BODY);
  if (body === "too-large") throw new BodyError(413, "request body too large");
  return body;
}

function parseJson(raw: Buffer): unknown {
  const json = jsonBody(raw);
  if (json === "not-json") throw new BodyError(400, "request body is not JSON");
  return json.value;
}

/** Headers of every WebAdmin page: only our own scripts and styles, never framed. */
const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

export function createAdminServer(opts: AdminServerOptions): AdminServer {
  const { log } = opts;
  const clock = opts.clock ?? systemClock;
  const startedAt = clock.now();
  const routes: Route[] = [
    ...queueRoutes(opts.queue, opts.headers),
    ...directoryRoutes(opts.directory, { homes: opts.homes, owners: opts.owners }),
    ...nodeRoutes({
      settings: opts.settings,
      metrics: opts.metrics,
      queueSize: () => opts.queue.size(),
      ring: opts.ring,
      cluster: opts.cluster,
      managed: opts.config !== undefined ? () => opts.config!.entries() : undefined,
      startedAt,
      now: () => clock.now(),
    }),
    ...(opts.submit !== undefined ? clusterRoutes(opts.submit) : []),
    ...drainRoutes(opts.drain),
    ...(opts.rules ? rulesRoutes(opts.rules, opts.cluster?.self ?? opts.settings.node.id) : []),
    ...(opts.dkim !== undefined ? dkimRoutes(opts.dkim, () => clock.now()) : []),
    ...milterRoutes({
      settings: opts.settings,
      metrics: opts.metrics,
      self: opts.cluster?.self ?? opts.settings.node.id,
    }),
    ...(opts.config !== undefined ? configRoutes(opts.config) : []),
  ];
  const self = opts.cluster?.self ?? opts.settings.node.id;
  const peers =
    opts.cluster === undefined
      ? null
      : createPeerCaller({
          secret: opts.cluster.secret,
          nodeId: self,
          clock,
          timeoutMs: PEER_TIMEOUT_MS,
          memberTls: opts.cluster.memberTls ?? null,
        });
  let assets: Promise<Map<string, Asset>> | null = null;
  // Each peer request is accepted once (cluster/api/replay.ts).
  const peerOnce = requestReplayGuard();

  /** Who sent the request, or the refusal already sent. */
  const authenticate = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    method: string,
    raw: Buffer,
  ): Promise<Caller | null> => {
    const refuse = (status: number, error: string, headers: Record<string, string> = {}): null => {
      log.problem("admin request refused", {
        client: req.socket.remoteAddress,
        method,
        path: url.pathname,
        status,
      });
      send(res, status, { error }, headers);
      return null;
    };
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
      if (bearer !== undefined && tokenMatches(bearer, opts.token)) return { kind: "token" };
      return refuse(401, "authorization required: Authorization: Bearer <token from dataDir/admin.token>", {
        "www-authenticate": "Bearer",
      });
    }
    if (opts.cluster !== undefined) {
      const claim = checkPeerRequest(
        opts.cluster.secret,
        peerOnce,
        self,
        req.headers,
        method,
        req.url ?? "",
        raw,
        clock.now(),
      );
      if (typeof claim === "string") return refuse(401, `cluster authentication failed: ${claim}`);
      if (claim !== null) {
        const notMember = memberRequestRefusal(req, opts.cluster.memberTls, claim.node);
        if (notMember !== null) return refuse(401, `cluster authentication failed: ${notMember}`);
        return { kind: "peer", claim };
      }
    }
    if (opts.web !== undefined) {
      const s = await sessionOf(opts.web, req);
      if (s !== null) {
        if (method !== "GET" && !csrfOk(req, s.session)) return refuse(403, "CSRF token missing or wrong");
        return { kind: "session", user: s.session.user };
      }
    }
    return refuse(401, "authorization required: Authorization: Bearer <token from dataDir/admin.token>", {
      "www-authenticate": "Bearer",
    });
  };

  const dispatch = async (
    method: string,
    path: string,
    query: URLSearchParams,
    raw: Buffer,
  ): Promise<{ status: number; body: unknown }> => {
    const m = match(routes, method, path);
    if (m === null) return { status: 404, body: { error: `no such endpoint: /api/${path}` } };
    if ("allowed" in m) return { status: 405, body: { error: `method ${method} not allowed here` } };
    const body = method === "POST" || method === "PATCH" || method === "PUT" ? parseJson(raw) : {};
    return m.route.handler({ method, params: m.params, query, body });
  };

  /** /api/nodes/ID/REST: REST on node ID, here or forwarded to that member. */
  const forward = async (
    method: string,
    node: string,
    rest: string,
    search: string,
    raw: Buffer,
  ): Promise<{ status: number; body: unknown }> => {
    if (!peerPathAllowed(rest)) return { status: 404, body: { error: `no such per-node endpoint: ${rest}` } };
    if (node === self) return dispatch(method, rest, new URLSearchParams(search), raw);
    if (opts.cluster === undefined || peers === null)
      return { status: 404, body: { error: `no node ${node}: this node is not in a cluster` } };
    const address = await opts.cluster.memberHttp(node);
    if (address === null) return { status: 404, body: { error: `no member ${node} in the cluster` } };
    try {
      return await peers.call(node, address, method, `/api/${rest}${search}`, raw);
    } catch (e) {
      log.problem("peer admin request failed", { node, path: rest, error: (e as Error).message });
      return { status: 502, body: { error: `member ${node} did not answer: ${(e as Error).message}` } };
    }
  };

  const api = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const method = req.method ?? "GET";
    let raw: Buffer;
    try {
      raw = await readRaw(req);
    } catch (e) {
      if (e instanceof BodyError) return send(res, e.status, { error: e.message });
      throw e;
    }
    const caller = await authenticate(req, res, url, method, raw);
    if (caller === null) return;
    const path = url.pathname.slice("/api/".length);
    const reply = (status: number, body: unknown): void => {
      const text = JSON.stringify(body) + "\n";
      const signed =
        caller.kind === "peer" && opts.cluster !== undefined
          ? peerReplyHeaders(opts.cluster.secret, caller.claim, status, text)
          : {};
      res.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "cache-control": "no-store",
        ...signed,
      });
      res.end(text);
    };
    try {
      let out: { status: number; body: unknown };
      const nodes = /^nodes\/([^/]+)\/(.+)$/.exec(path);
      if (caller.kind === "peer" && (nodes !== null || !peerPathAllowed(path)))
        out = { status: 403, body: { error: "not open to other members" } };
      else if (nodes !== null)
        out = await forward(method, decodeURIComponent(nodes[1]!), nodes[2]!, url.search, raw);
      else out = await dispatch(method, path, url.searchParams, raw);
      if (method !== "GET")
        log.major("admin request", {
          method,
          path: url.pathname,
          status: out.status,
          by: callerName(caller),
        });
      reply(out.status, out.body);
    } catch (e) {
      if (e instanceof BodyError) return reply(e.status, { error: e.message });
      const err = errorResponse(e);
      if (err.internal) log.failure("admin request failed", { method, path: url.pathname, error: String(e) });
      else
        log.low("admin request refused", {
          method,
          path: url.pathname,
          status: err.status,
          error: err.message,
        });
      reply(err.status, { error: err.message });
    }
  };

  const web = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const auth = opts.web!;
    const method = req.method ?? "GET";
    const sub = url.pathname.slice("/admin/".length);
    if (sub === "login" || sub === "logout" || sub === "session") {
      const raw = await readRaw(req).catch((e: unknown) => {
        if (e instanceof BodyError) return null;
        throw e;
      });
      if (raw === null) return send(res, 413, { error: "request body too large" });
      const r =
        sub === "session" && method === "GET"
          ? await whoami(auth, req)
          : sub === "login" && method === "POST"
            ? await login(auth, req, raw, opts.settings.webadmin.sessionMaxSeconds)
            : sub === "logout" && method === "POST"
              ? await logout(auth, req)
              : { status: 405, body: { error: `method ${method} not allowed here` } };
      return send(res, r.status, r.body, "headers" in r && r.headers !== undefined ? r.headers : {});
    }
    if (method !== "GET" && method !== "HEAD")
      return send(res, 405, { error: `method ${method} not allowed here` });
    assets ??= loadAssets();
    const asset = (await assets).get(sub);
    if (asset === undefined) return send(res, 404, { error: "not found" });
    res.writeHead(200, {
      "content-type": asset.type,
      "content-length": String(asset.body.length),
      "cache-control": "no-cache",
      ...PAGE_HEADERS,
    });
    res.end(method === "HEAD" ? undefined : asset.body);
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
    if (opts.web !== undefined && (url.pathname === "/admin" || url.pathname === "/")) {
      res.writeHead(302, { location: "/admin/" });
      res.end();
      return;
    }
    if (opts.web !== undefined && url.pathname.startsWith("/admin/")) {
      await web(req, res, url);
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

  // Cluster TLS: members' connections (TLS from the first byte) are told from people's here.
  const memberTls = opts.cluster?.memberTls ?? null;
  const front = memberTls === null ? null : sniffingListener(server, memberTls, log);
  const listening = front?.server ?? server;

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        listening.once("error", reject);
        listening.listen(port, host, () => {
          listening.off("error", reject);
          const a = listening.address() as AddressInfo;
          log.major("admin listening", { address: a.address, port: a.port });
          resolve({ address: a.address, port: a.port });
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        if (!listening.listening) return resolve();
        listening.close(() => resolve());
        server.closeAllConnections();
        front?.destroyAll();
      });
    },
  };
}
