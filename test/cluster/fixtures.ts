// An in-process cluster for the role tests: frontends and backends started with the real node
// wiring (startClusterNode), sharing one SQLite state file in a temp dir, each with its own data
// directory (spool, Maildir), listening on 127.0.0.1 with ports from the OS. All nodes share one
// fake clock, so heartbeats, retries and cache lifetimes move only when a test advances it; a
// node may be given a clock of its own that never moves (a hung node: its heartbeats stop).
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteClusterState } from "../../src/cluster/sqlite-state.js";
import type { ClusterState } from "../../src/cluster/state.js";
import { settingsSchema, type Settings } from "../../src/config/settings.js";
import type { Directory } from "../../src/directory/directory.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { startClusterNode, type ClusterNode } from "../../src/server/roles.js";
import type { Clock } from "../../src/world/clock.js";
import { fakeResolver } from "../kit/resolver.js";
import { FakeClock } from "../kit/clock.js";
import { memoryLogSink } from "../kit/log.js";
import { waitFor } from "../kit/load.js";

export const SECRET = "cluster-secret-for-role-tests-42";

type After = { after(fn: () => Promise<void>): void };

export interface NodeSpec {
  readonly id: string;
  readonly role: "frontend" | "backend";
  /** Settings merged over the fixture's, as nested objects. */
  readonly extra?: Record<string, unknown>;
  /** Its own clock instead of the cluster's. */
  readonly clock?: Clock;
}

export interface Cluster {
  readonly root: string;
  readonly clock: FakeClock;
  /** The shared state file, opened by the test (directory and cluster state). */
  readonly directory: Directory;
  readonly state: ClusterState;
  readonly nodes: Map<string, ClusterNode>;
  readonly logs: Map<string, ReturnType<typeof memoryLogSink>>;
  node(id: string): ClusterNode;
  start(spec: NodeSpec): Promise<ClusterNode>;
  stop(id: string): Promise<void>;
  /** Every running node beats now and refreshes its view. */
  refreshAll(): Promise<void>;
  /**
   * Lets ms of cluster time pass a second at a time, every node beating each second as it would
   * in real time (one big jump would make every member look silent), until done() holds (then
   * waits, bounded, for work already started).
   */
  passTime(ms: number, done: () => Promise<boolean>): Promise<void>;
  /** The messages in an account's Maildir (new/) on one node's data directory. */
  mailbox(nodeId: string, address: string): Promise<string[]>;
}

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === "object" && v !== null && !Array.isArray(v);
function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isTree(b) && isTree(v) ? merge(b, v) : v;
  }
  return out;
}

const settingsFor = (root: string, spec: NodeSpec): Settings =>
  settingsSchema.parse(
    merge(
      {
        role: spec.role,
        node: { id: spec.id },
        dataDir: join(root, spec.id),
        hostname: `${spec.id}.cluster.test`,
        state: { url: join(root, "state.db") },
        smtp: { listen: ["127.0.0.1:0"], outbound: { starttls: false } },
        submission: { listen: [] },
        submissions: { listen: [] },
        pop3: { listen: [] },
        http: { listen: "127.0.0.1:0" },
        channel: { listen: "127.0.0.1:0" },
        cluster: { secret: SECRET },
        log: { stdout: false },
      },
      spec.extra ?? {},
    ),
  );

export async function startCluster(t: After, specs: readonly NodeSpec[]): Promise<Cluster> {
  const root = await mkdtemp(join(tmpdir(), "mailyard-cluster-"));
  // Starts at the real time, so a command reading the state file with the system clock agrees.
  const clock = new FakeClock(Date.now());
  const directory = openSqliteDirectory(join(root, "state.db"), clock);
  const state = openSqliteClusterState(join(root, "state.db"), clock);
  const nodes = new Map<string, ClusterNode>();
  const logs = new Map<string, ReturnType<typeof memoryLogSink>>();

  const c: Cluster = {
    root,
    clock,
    directory,
    state,
    nodes,
    logs,
    node(id) {
      const n = nodes.get(id);
      if (n === undefined) throw new Error(`node ${id} is not running`);
      return n;
    },
    async start(spec) {
      const log = memoryLogSink();
      logs.set(spec.id, log);
      const n = await startClusterNode(settingsFor(root, spec), {
        log,
        // Frontends check SPF, DKIM and DMARC of mail from outside relayNetworks: never with real
        // DNS (every .test name is NXDOMAIN here, so the verdicts are none).
        world: { clock: spec.clock ?? clock, resolver: fakeResolver({}) },
      });
      nodes.set(spec.id, n);
      return n;
    },
    async stop(id) {
      const n = nodes.get(id);
      nodes.delete(id);
      await n?.stop();
    },
    async refreshAll() {
      await Promise.all([...nodes.values()].map((n) => n.membership.refresh()));
    },
    async passTime(ms, done) {
      for (let t = 0; t < ms; t += 1000) {
        clock.advance(1000);
        await c.refreshAll();
        if (await done()) return;
      }
      // Disk and sockets take real time that the steps above do not wait for.
      await waitFor(`done within ${ms} ms of cluster time`, done);
    },
    async mailbox(nodeId, address) {
      const [local = "", domain = ""] = address.split("@");
      const dir = join(root, nodeId, "mail", domain, local, "new");
      const names = await readdir(dir).catch(() => []);
      return Promise.all(names.map((f) => readFile(join(dir, f), "utf8")));
    },
  };
  t.after(async () => {
    for (const id of [...nodes.keys()]) await c.stop(id);
    await state.close();
    await directory.close();
    await rm(root, { recursive: true, force: true });
  });
  for (const s of specs) await c.start(s);
  // Nodes started earlier learn of later ones on their next beat: beat now.
  await c.refreshAll();
  return c;
}

/** A static cluster's accounts: example.test with each account's home backend. */
export async function addAccounts(c: Cluster, homes: Readonly<Record<string, string>>): Promise<void> {
  if (!(await c.directory.isLocalDomain("example.test"))) await c.directory.addDomain("example.test");
  for (const [address, home] of Object.entries(homes)) {
    await c.directory.addAccount(address, `${address}-pw`);
    await c.state.setHome(address, home);
  }
}

/** True once the mailbox holds n messages. */
export const hasMail =
  (c: Cluster, nodeId: string, address: string, n = 1) =>
  async (): Promise<boolean> =>
    (await c.mailbox(nodeId, address)).length >= n;

/** Waits (bounded) until the mailbox holds n messages; returns them. */
export async function waitForMail(c: Cluster, nodeId: string, address: string, n = 1): Promise<string[]> {
  await waitFor(`${n} message(s) for ${address} on ${nodeId}`, async () => {
    return (await c.mailbox(nodeId, address)).length >= n;
  });
  return c.mailbox(nodeId, address);
}
