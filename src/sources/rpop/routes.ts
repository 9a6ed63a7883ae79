// The admin API routes for RPOP entries, mounted on the node's admin HTTP server by the RPOP
// source (single servers and backends): they sit in front of the admin API's own routes, so
// they check its bearer token themselves. Bodies are validated here; the password is taken in
// and never given back (entryView).
//   GET    /api/accounts/:address/rpop          the account's entries
//   POST   /api/accounts/:address/rpop          add one (201)
//   DELETE /api/accounts/:address/rpop/:id      remove one
import type http from "node:http";
import { z } from "zod";
import { ApiError, errorResponse, match, ok, parseBody, type Route } from "../../http/api.js";
import { tokenMatches } from "../../http/bearer.js";
import type { Directory } from "../../directory/directory.js";
import type { Log } from "../../log/logger.js";
import { jsonBody, readBounded } from "../../world/bounded-body.js";
import { RPOP_TLS, RpopError, entryView, type RpopStore } from "./store.js";

const MAX_BODY = 64 * 1024;

export const newEntrySchema = z.strictObject({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65535).optional(),
  tls: z.enum(RPOP_TLS).optional(),
  tlsVerify: z.boolean().optional(),
  user: z.string().min(1).max(255),
  password: z.string().min(1).max(255),
  apop: z.boolean().optional(),
  keep: z.boolean().optional(),
  intervalSeconds: z.number().int().positive().optional(),
});
export type NewEntry = z.infer<typeof newEntrySchema>;

/** Defaults of a new entry: POP3S port for tls, else 110; STLS; verified; delete; 10 minutes. */
export function withDefaults(b: NewEntry): Parameters<RpopStore["add"]>[1] {
  const tls = b.tls ?? "stls";
  return {
    host: b.host,
    port: b.port ?? (tls === "tls" ? 995 : 110),
    tls,
    tlsVerify: b.tlsVerify ?? true,
    user: b.user,
    password: b.password,
    apop: b.apop ?? false,
    keep: b.keep ?? false,
    intervalSeconds: b.intervalSeconds ?? 600,
  };
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const body = await readBounded(req, MAX_BODY);
  if (body === "too-large") throw new ApiError(413, "request body too large");
  const json = jsonBody(body);
  if (json === "not-json") throw new ApiError(400, "request body is not JSON");
  return json.value;
}

const send = (
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) => {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
};

export function rpopRoutes(o: {
  store: RpopStore;
  directory: Pick<Directory, "getAccount">;
  /** The entries changed: the scheduler reloads them. */
  changed: () => void;
}): Route[] {
  const account = async (address: string): Promise<string> => {
    if (address.length === 0 || address.length > 320) throw new ApiError(400, "invalid address");
    const a = await o.directory.getAccount(address);
    if (a === null) throw new ApiError(404, `no account ${address}`);
    return a.address;
  };
  return [
    {
      method: "GET",
      pattern: "accounts/:address/rpop",
      handler: async (req) => {
        const a = await account(req.params["address"] ?? "");
        return ok({ entries: (await o.store.list(a)).map(entryView) });
      },
    },
    {
      method: "POST",
      pattern: "accounts/:address/rpop",
      handler: async (req) => {
        const body = parseBody(newEntrySchema, req.body);
        const a = await account(req.params["address"] ?? "");
        const entry = await o.store.add(a, withDefaults(body));
        o.changed();
        return ok(entryView(entry), 201);
      },
    },
    {
      method: "DELETE",
      pattern: "accounts/:address/rpop/:id",
      handler: async (req) => {
        const a = await account(req.params["address"] ?? "");
        const id = req.params["id"] ?? "";
        if (!(await o.store.remove(a, id))) throw new ApiError(404, `${a} has no RPOP entry ${id}`);
        o.changed();
        return ok({ ok: true });
      },
    },
  ];
}

/** The routes as an admin HTTP handler: false for requests that are not theirs. */
export function rpopHttp(routes: Route[], token: () => Promise<string>, log: Log) {
  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://admin.invalid");
    if (!url.pathname.startsWith("/api/accounts/") || !/\/rpop(?:\/[^/]*)?$/.test(url.pathname)) return false;
    const method = req.method ?? "GET";
    const m = match(routes, method, url.pathname.slice("/api/".length));
    if (m === null) return false;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
    if (bearer === undefined || !tokenMatches(bearer, await token())) {
      log.problem("admin request refused", { client: req.socket.remoteAddress, method, path: url.pathname });
      send(
        res,
        401,
        { error: "authorization required: Authorization: Bearer <token from dataDir/admin.token>" },
        {
          "www-authenticate": "Bearer",
        },
      );
      return true;
    }
    if ("allowed" in m) {
      send(res, 405, { error: `method ${method} not allowed here` }, { allow: m.allowed.join(", ") });
      return true;
    }
    try {
      const body = method === "POST" ? await readJson(req) : {};
      const out = await m.route.handler({ method, params: m.params, query: url.searchParams, body });
      if (method !== "GET") log.major("admin request", { method, path: url.pathname, status: out.status });
      send(res, out.status, out.body);
    } catch (e) {
      const err =
        e instanceof RpopError
          ? { status: e.code === "not-found" ? 404 : 400, message: e.message, internal: false }
          : errorResponse(e);
      if (err.internal) log.failure("admin request failed", { method, path: url.pathname, error: String(e) });
      send(res, err.status, { error: err.message });
    }
    return true;
  };
}
