// The JSON API plumbing of the node's HTTP server (the admin API and the routes the message
// sources mount on it): a tiny route table, the request/response shapes handlers see, and the
// mapping of errors to HTTP statuses. No sockets here (src/admin/http.ts owns them).
import { z } from "zod";
import { DirectoryError } from "../directory/directory.js";

export interface ApiRequest {
  readonly method: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The JSON body (parsed, size-limited); {} when there is none. */
  readonly body: unknown;
}

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

export type Handler = (req: ApiRequest) => Promise<ApiResponse>;

export interface Route {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path below /api/, segments; ":name" captures one segment. */
  readonly pattern: string;
  readonly handler: Handler;
}

/** A caller mistake with its status; anything else thrown is a 500. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const ok = (body: unknown, status = 200): ApiResponse => ({ status, body });

export type Match = { route: Route; params: Record<string, string> } | { allowed: string[] } | null;

/** The route for a method and path below /api/; or which methods that path allows; or null. */
export function match(routes: readonly Route[], method: string, path: string): Match {
  const segments = path.split("/").filter((s) => s !== "");
  const allowed: string[] = [];
  for (const route of routes) {
    const pattern = route.pattern.split("/");
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let hit = true;
    for (let i = 0; i < pattern.length && hit; i++) {
      const p = pattern[i]!;
      let s: string;
      try {
        s = decodeURIComponent(segments[i]!);
      } catch {
        return null;
      }
      if (p.startsWith(":")) params[p.slice(1)] = s;
      else hit = p === s;
    }
    if (!hit) continue;
    if (route.method === method) return { route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { allowed } : null;
}

/** Validate a body with a zod schema; a mismatch is a 400 naming the field. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const where = issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
  throw new ApiError(400, `invalid request body: ${where}${issue.message}`);
}

/** Status and message for an error thrown by a handler. */
export function errorResponse(e: unknown): { status: number; message: string; internal: boolean } {
  if (e instanceof ApiError) return { status: e.status, message: e.message, internal: false };
  if (e instanceof DirectoryError) {
    const status = e.code === "exists" ? 409 : e.code === "not-found" ? 404 : 400;
    return { status, message: e.message, internal: false };
  }
  return { status: 500, message: "internal error", internal: true };
}
