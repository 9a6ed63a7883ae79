// A single node started in-process for the message-source tests: a temp data dir with the
// domain example.test (accounts alice and bob, alias info → alice), remote mail sent to a peer
// through smtp.forwardTo, every record kept in a memory log. Helpers read Maildirs and the
// envelopes of queued messages (through the admin API).
import type { TestContext } from "node:test";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { settingsSchema, type Settings } from "../../src/config/settings.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { startNode, type RunningNode } from "../../src/server/node.js";
import { systemClock } from "../../src/world/clock.js";
import { memoryLogSink } from "../kit/log.js";

export interface Rig {
  readonly node: RunningNode;
  readonly dataDir: string;
  readonly settings: Settings;
  readonly logs: ReturnType<typeof memoryLogSink>;
  readonly base: string;
  /** Messages in a mailbox of example.test. */
  mailbox(user: string): Promise<string[]>;
  /** GET an admin API path with the node's token. */
  admin(path: string): Promise<unknown>;
  stop(): Promise<void>;
}

export async function prepareDataDir(prefix: string): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  const dir = openSqliteDirectory(join(dataDir, "mailyard.db"), systemClock);
  await dir.addDomain("example.test");
  await dir.addAccount("alice@example.test", "alice-pw");
  await dir.addAccount("bob@example.test", "bob-pw");
  await dir.addAlias("info@example.test", ["alice@example.test"]);
  await dir.close();
  return dataDir;
}

export function rigSettings(
  dataDir: string,
  forwardPort: number,
  extra: Record<string, unknown> = {},
): Settings {
  return settingsSchema.parse({
    dataDir,
    hostname: "mx.example.test",
    smtp: {
      listen: ["127.0.0.1:0"],
      forwardTo: [`127.0.0.1:${forwardPort}`],
      outbound: { starttls: false },
    },
    submission: { listen: [] },
    submissions: { listen: [] },
    pop3: { listen: [] },
    http: { listen: "127.0.0.1:0" },
    queue: { firstRetrySeconds: 3600 },
    log: { stdout: false },
    ...extra,
  });
}

export async function startRig(
  t: TestContext | null,
  o: { dataDir?: string; forwardPort: number; extra?: Record<string, unknown> },
): Promise<Rig> {
  const dataDir = o.dataDir ?? (await prepareDataDir("mailyard-sources-"));
  const settings = rigSettings(dataDir, o.forwardPort, o.extra);
  const logs = memoryLogSink();
  const node = await startNode(settings, { log: logs });
  const base = `http://127.0.0.1:${node.http.port}`;
  let stopped = false;
  const rig: Rig = {
    node,
    dataDir,
    settings,
    logs,
    base,
    async mailbox(user) {
      const d = join(dataDir, "mail", "example.test", user, "new");
      const names = (await readdir(d).catch(() => [])).sort();
      return Promise.all(names.map((n) => readFile(join(d, n), "utf8")));
    },
    async admin(path) {
      const token = (await readFile(join(dataDir, "admin.token"), "utf8")).trim();
      const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return r.json();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await node.stop();
    },
  };
  t?.after(async () => {
    await rig.stop();
    if (o.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  });
  return rig;
}
