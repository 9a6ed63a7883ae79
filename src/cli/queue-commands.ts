// queue commands: they act on the running node's queue through its admin API (the queue lives
// in that process's memory and spool; editing spool files under it would race the manager).
// `queue quarantined` only reads the quarantine folder (queue/corrupt/), which the manager writes
// into and never reads, so it works with the node running or not.
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Settings } from "../config/settings.js";
import type { QueueEntrySummary } from "../queue/types.js";
import { adminTarget, connectAdmin, replyError } from "./admin-client.js";
import { CliError, UsageError, type CliIo } from "./io.js";
import { table } from "./directory-commands.js";

const iso = (ms: number): string => (ms > 0 ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : "now");

function describe(m: QueueEntrySummary): string {
  const head = table([[m.id, String(m.size), iso(m.arrival), m.state, m.source, `<${m.from}>`]]);
  const rcpts = m.recipients.map((r) => {
    const parts = [`  ${r.address}`, r.status, `attempts=${r.attempts}`];
    if (r.status === "pending") parts.push(`next=${iso(r.nextAttempt)}`);
    if (r.lastRelay !== null) parts.push(`relay=${r.lastRelay}`);
    if (r.lastReply !== null) parts.push(`reply="${r.lastReply}"`);
    return parts.join(" ");
  });
  return [head, ...rcpts].join("\n");
}

const ACTIONS: Record<string, { method: string; path: (id: string) => string; done: string }> = {
  hold: { method: "POST", path: (id) => `/api/queue/${id}/hold`, done: "held" },
  release: { method: "POST", path: (id) => `/api/queue/${id}/release`, done: "released" },
  retry: { method: "POST", path: (id) => `/api/queue/${id}/retry`, done: "scheduled for retry now" },
  reject: { method: "POST", path: (id) => `/api/queue/${id}/reject`, done: "rejected" },
  delete: { method: "DELETE", path: (id) => `/api/queue/${id}`, done: "deleted" },
};

export async function queueCommand(
  settings: Settings,
  io: CliIo,
  verb: string,
  args: readonly string[],
  o: { json?: boolean | undefined; text?: string | undefined },
): Promise<void> {
  if (verb === "quarantined") return listQuarantined(settings, io, o.json === true);
  const api = await connectAdmin(settings);
  if (api === null)
    throw new CliError(
      `mailyard is not running at ${adminTarget(settings).address} (queue commands need the running node)`,
    );
  if (verb === "list") {
    const r = await api.request("GET", "/api/queue");
    if (r.status !== 200) throw new CliError(`queue list: ${replyError(r)}`);
    const messages = r.body["messages"] as QueueEntrySummary[];
    if (o.json === true) io.out(JSON.stringify(messages, null, 2));
    else {
      for (const m of messages) io.out(describe(m));
      io.out(messages.length === 1 ? "1 message in the queue" : `${messages.length} messages in the queue`);
    }
    return;
  }
  const id = encodeURIComponent(args[0]!);
  if (verb === "show") {
    const r = await api.request("GET", `/api/queue/${id}`);
    if (r.status !== 200) throw new CliError(`queue show: ${replyError(r)}`);
    io.out(
      o.json === true ? JSON.stringify(r.body, null, 2) : describe(r.body as unknown as QueueEntrySummary),
    );
    return;
  }
  const action = ACTIONS[verb];
  if (action === undefined) throw new UsageError(`unknown command: queue ${verb}`);
  const body =
    verb === "reject" && o.text !== undefined ? { text: o.text } : verb === "reject" ? {} : undefined;
  const r = await api.request(action.method, action.path(id), body);
  if (r.status !== 200) throw new CliError(`queue ${verb}: ${replyError(r)}`);
  io.out(`message ${args[0]!} ${action.done}`);
}

/** Files the queue moved aside: failed checksums, unreadable files, their recipient state. */
async function listQuarantined(settings: Settings, io: CliIo, json: boolean): Promise<void> {
  const dir = join(resolve(settings.dataDir), "queue", "corrupt");
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  const files = await Promise.all(
    names.map(async (name) => {
      const st = await stat(join(dir, name));
      return { name, size: st.size, moved: st.mtimeMs };
    }),
  );
  if (json) {
    io.out(JSON.stringify({ dir, files }, null, 2));
    return;
  }
  if (files.length > 0) io.out(table(files.map((f) => [f.name, String(f.size), iso(Math.trunc(f.moved))])));
  io.out(`${files.length === 1 ? "1 file" : `${files.length} files`} in ${dir}`);
}
