// Calls to a test's admin API on 127.0.0.1, as the CLI and the WebAdmin make them: a bearer token
// (or another authorization value), a JSON body, a JSON answer. Each reply's raw text can be
// kept (seen), for tests that check what the API never says (a private key, a secret).
import { rm } from "node:fs/promises";
import type { AdminServerOptions } from "../../src/admin/http.js";
import { createPromMetrics } from "../../src/admin/metrics.js";
import { settingsSchema } from "../../src/config/settings.js";
import type { Directory } from "../../src/directory/directory.js";
import { memoryLogSink } from "./log.js";
import { fakeQueue } from "./queue.js";
export interface ApiReply {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

export type ApiCall = (method: string, path: string, body?: unknown, auth?: string) => Promise<ApiReply>;

/** `path` is below /api/; `auth` defaults to the token as a bearer. */
export function adminApi(port: number, token: string, seen?: string[]): ApiCall {
  return async (method, path, body, auth = `Bearer ${token}`) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/${path}`, {
      method,
      headers: { authorization: auth, "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    seen?.push(text);
    return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
  };
}

/** A test's admin server: listened to, and taken down when the test ends. */
export interface ServedAdmin {
  readonly port: number;
  readonly call: ApiCall;
}

/**
 * Listens on an OS-picked port of 127.0.0.1. After the test: the server closes, then each of
 * `stores` in order, then `dataDir` goes.
 */
export async function serveAdmin(
  t: { after(fn: () => Promise<void>): void },
  server: { listen(host: string, port: number): Promise<{ port: number }>; close(): Promise<void> },
  o: {
    readonly token: string;
    readonly dataDir: string;
    readonly stores: readonly { close(): Promise<void> }[];
    readonly seen?: string[];
  },
): Promise<ServedAdmin> {
  const { port } = await server.listen("127.0.0.1", 0);
  t.after(async () => {
    await server.close();
    for (const s of o.stores) await s.close();
    await rm(o.dataDir, { recursive: true, force: true });
  });
  return { port, call: adminApi(port, o.token, o.seen) };
}

/** What a test's admin server needs at the least: default settings on `dataDir`, an empty queue, fresh metrics, healthy. */
export function adminOptions(o: {
  readonly dataDir: string;
  readonly directory: Directory;
  readonly token: string;
}): AdminServerOptions {
  return {
    settings: settingsSchema.parse({ dataDir: o.dataDir }),
    queue: fakeQueue([]),
    directory: o.directory,
    metrics: createPromMetrics({ queueSize: () => 0 }),
    log: memoryLogSink().for("ADMIN"),
    token: o.token,
    health: () => ({ ok: true, detail: {} }),
  };
}
