// The CLI's side of the admin API: finds out whether a node answers at settings.http.listen,
// and sends authenticated JSON requests with the token from <dataDir>/admin.token. Replies are
// from our own node but are still checked for shape before use (something else may own the port).
import http from "node:http";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Settings } from "../config/settings.js";
import { adminTokenPath } from "../admin/token.js";
import { formatHostPort, parseHostPort } from "../proto/hostport.js";
import { CliError } from "./io.js";

const TIMEOUT_MS = 10_000;

export interface AdminReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface AdminClient {
  /** host:port the node answers at. */
  readonly address: string;
  request(method: string, path: string, body?: unknown): Promise<AdminReply>;
}

/** Where to connect for a listen address: a wildcard bind is reached over loopback. */
export function adminTarget(settings: Settings): { host: string; port: number; address: string } {
  const { host, port } = parseHostPort(settings.http.listen);
  const target = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return { host: target, port, address: formatHostPort({ host: target, port }) };
}

function send(
  target: { host: string; port: number },
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<AdminReply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = http.request(
      {
        host: target.host,
        port: target.port,
        method,
        path,
        timeout: TIMEOUT_MS,
        headers: {
          accept: "application/json",
          ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
          ...(payload !== undefined
            ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = null;
          }
          const ok = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
          resolvePromise({
            status: res.statusCode ?? 0,
            body: ok ? (parsed as Record<string, unknown>) : { error: text.slice(0, 200) },
          });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * A client for the node at settings.http.listen, or null when nothing listens there (connection
 * refused). Anything else (timeouts, a foreign server, a missing token) is a CliError.
 */
export async function connectAdmin(settings: Settings): Promise<AdminClient | null> {
  const target = adminTarget(settings);
  let health: AdminReply;
  try {
    health = await send(target, "GET", "/healthz", null);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ECONNREFUSED") return null;
    throw new CliError(`cannot reach the mailyard admin API at ${target.address}: ${(e as Error).message}`);
  }
  if (typeof health.body["status"] !== "string") {
    throw new CliError(`something other than mailyard answers at ${target.address} (http.listen)`);
  }
  const tokenFile = adminTokenPath(resolve(settings.dataDir));
  let token: string;
  try {
    token = (await readFile(tokenFile, "utf8")).trim();
  } catch (e) {
    throw new CliError(
      `mailyard answers at ${target.address} but its admin token ${tokenFile} is unreadable (${(e as NodeJS.ErrnoException).code ?? String(e)}); is dataDir right?`,
    );
  }
  return {
    address: target.address,
    async request(method, path, body) {
      let reply: AdminReply;
      try {
        reply = await send(target, method, path, token, body);
      } catch (e) {
        throw new CliError(`admin API at ${target.address}: ${(e as Error).message}`);
      }
      if (reply.status === 401)
        throw new CliError(
          `the node at ${target.address} refused the admin token in ${tokenFile}; is dataDir right?`,
        );
      return reply;
    },
  };
}

/** The reply's error text, for messages. */
export const replyError = (r: AdminReply): string =>
  typeof r.body["error"] === "string" ? r.body["error"] : `HTTP ${r.status}`;
