// `mailyard cluster up|down|status`: a whole cluster on this machine for trying Mailyard out and
// for end-to-end tests. `up` starts N frontends and M backends as real, detached child processes
// (`mailyard start --set role=... --set node.id=...`), each with its own dataDir under DIR, one
// shared state file, one generated cluster secret and ports the OS picks on 127.0.0.1; waits
// until every member sees every other as live; puts HAProxy in front of the frontends when it
// is installed; and writes DIR/cluster.json (pids, ports), which `down` and `status` read.
//
// Invariants: one running cluster per DIR (a run file whose processes live refuses `up`); a
// failed `up` stops whatever it had started. A pid from the run file is signalled only while
// /proc says it is still a mailyard or haproxy process, so a recycled pid is never killed.
// The run file is our own output but is still validated when read back. Secrets never go on a
// child's command line, which every local user reads in /proc/PID/cmdline: the members get the
// path of DIR/cluster.secret (0600) as cluster.secretFile and one RPOP key file; DIR and every
// file in it are the invoking user's alone (0700/0600).
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { renderHaproxyConfig } from "../cluster/haproxy.js";
import { openSqliteClusterState } from "../cluster/sqlite-state.js";
import { loadOrCreateRpopKey } from "../sources/rpop/seal.js";
import { systemClock } from "../world/clock.js";
import { CliError, UsageError, type CliIo } from "./io.js";
import {
  freePort,
  POLL_MS,
  portOpen,
  processAlive,
  sleep,
  spawnDetached,
  stopPids,
  type Spawned,
} from "./local-processes.js";

export const DEFAULT_CLUSTER_DIR = "./data/cluster";
export const HAPROXY_PATH = "/usr/sbin/haproxy";
const RUN_FILE = "cluster.json";
const SECRET_FILE = "cluster.secret";
const RPOP_KEY_FILE = "rpop.key";
/** HAProxy connects to the frontends from here, the one address they expect PROXY headers from. */
const BALANCER_SOURCE = "127.0.0.2";
const START_TIMEOUT_MS = 60_000;
const MAX_NODES = 32;

const BIN = fileURLToPath(new URL("../../../bin/mailyard.js", import.meta.url));

const runMember = z.strictObject({
  id: z.string(),
  role: z.enum(["frontend", "backend"]),
  pid: z.number().int().positive(),
  smtp: z.number().int(),
  submission: z.number().int(),
  /** Submissions (implicit TLS) port of a frontend; 0 for backends. Absent in older run files. */
  submissions: z.number().int().optional(),
  /** POP3 port of a backend; 0 for frontends (no mailboxes). Absent in older run files. */
  pop3: z.number().int().optional(),
  http: z.number().int(),
  channel: z.number().int().nullable(),
  dataDir: z.string(),
  log: z.string(),
});
const runFile = z.strictObject({
  version: z.literal(1),
  dir: z.string(),
  kind: z.enum(["static", "dynamic"]),
  startedAt: z.string(),
  members: z.array(runMember),
  balancer: z
    .strictObject({
      pid: z.number().int().positive(),
      port: z.number().int(),
      /** Port 465's stand-in (to the frontends' submissions listeners). Absent in older run files. */
      submissions: z.number().int().optional(),
      config: z.string(),
      log: z.string(),
    })
    .nullable(),
});
type RunMember = z.infer<typeof runMember>;
type RunFile = z.infer<typeof runFile>;

export interface LocalClusterValues {
  readonly frontends?: string | undefined;
  readonly backends?: string | undefined;
  readonly dynamic?: boolean | undefined;
  readonly data?: string | undefined;
  readonly json?: boolean | undefined;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function count(option: string, text: string | undefined): number {
  if (text === undefined) throw new UsageError(`cluster up needs --${option} N`);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_NODES)
    throw new UsageError(`--${option}: expected a number from 1 to ${MAX_NODES}, got "${text}"`);
  return n;
}

async function readRunFile(dir: string): Promise<RunFile | null> {
  let text: string;
  try {
    text = await readFile(join(dir, RUN_FILE), "utf8");
  } catch {
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${join(dir, RUN_FILE)} is not valid JSON; remove it if no cluster runs there`);
  }
  const r = runFile.safeParse(parsed);
  if (!r.success) throw new CliError(`${join(dir, RUN_FILE)} is not a cluster run file`);
  return r.data;
}

const pidsOf = (run: RunFile): number[] => [
  ...(run.balancer !== null ? [run.balancer.pid] : []),
  ...run.members.map((m) => m.pid),
];

/** The ports a node's "started" log line names. */
function startedPorts(
  text: string,
  id: string,
): Omit<RunMember, "id" | "role" | "pid" | "dataDir" | "log"> | null {
  const line = text.split("\n").find((l) => / started /.test(l) && l.includes(`node=${id}`));
  if (line === undefined) return null;
  const port = (name: string): number | null => {
    const m = new RegExp(`\\b${name}=127\\.0\\.0\\.1:(\\d+)`).exec(line);
    return m ? Number(m[1]) : null;
  };
  const smtp = port("smtp");
  const http = port("http");
  if (smtp === null || http === null) return null;
  return {
    smtp,
    submission: port("submission") ?? 0,
    submissions: port("submissions") ?? 0,
    pop3: port("pop3") ?? 0,
    http,
    channel: port("channel"),
  };
}

async function healthLive(port: number): Promise<{ live: string[]; queue: number } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as { live?: unknown; queue?: unknown };
    const live = Array.isArray(body.live) ? body.live.filter((x): x is string => typeof x === "string") : [];
    return { live, queue: typeof body.queue === "number" ? body.queue : -1 };
  } catch {
    return null;
  }
}

/** DIR/cluster.secret, made on the first start in DIR; its path, which is all a member is given. */
async function secretFileFor(dir: string): Promise<string> {
  const file = join(dir, SECRET_FILE);
  try {
    const s = (await readFile(file, "utf8")).trim();
    if (s.length >= 32) {
      // An older run may have left it readable by others.
      await chmod(file, 0o600);
      return file;
    }
  } catch {
    // First start in this DIR: generate one below.
  }
  await writeFile(file, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return file;
}

async function up(io: CliIo, dir: string, v: LocalClusterValues): Promise<void> {
  const nf = count("frontends", v.frontends);
  const nb = count("backends", v.backends);
  const kind = v.dynamic === true ? "dynamic" : "static";
  const previous = await readRunFile(dir);
  if (previous !== null) {
    const running = pidsOf(previous).filter(processAlive);
    if (running.length > 0)
      throw new CliError(
        `cluster up: ${dir} already holds a running cluster (pids ${running.join(" ")}); ` +
          `stop it with: mailyard cluster down --data ${dir}`,
      );
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const secretFile = await secretFileFor(dir);
  // One RPOP key for every member (they share the state that holds the sealed passwords).
  const rpopKey = join(dir, RPOP_KEY_FILE);
  await loadOrCreateRpopKey(rpopKey);
  const withBalancer = existsSync(HAPROXY_PATH);
  const started: Spawned[] = [];

  const startNode = async (id: string, role: "frontend" | "backend"): Promise<RunMember> => {
    const dataDir = join(dir, id);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const log = join(dir, `${id}.log`);
    // A previous run's "started" line must not be taken for this one's.
    await rm(log, { force: true });
    const sets = [
      `role=${role}`,
      `node.id=${id}`,
      `dataDir=${dataDir}`,
      `state.url=${join(dir, "state.db")}`,
      `cluster.secretFile=${secretFile}`,
      `rpop.keyFile=${rpopKey}`,
      `cluster.kind=${kind}`,
      "smtp.listen=127.0.0.1:0",
      "submission.listen=127.0.0.1:0",
      // Port 465 on the frontends, where clients log in from outside (the balancer forwards it).
      `submissions.listen=${role === "frontend" ? "127.0.0.1:0" : ""}`,
      "http.listen=127.0.0.1:0",
      ...(role === "backend"
        ? ["channel.listen=127.0.0.1:0", "smtp.forwardTo=*", "pop3.listen=127.0.0.1:0"]
        : ["pop3.listen="]),
      // Dynamic: any backend may open any account, so all of them share one Maildir root.
      ...(role === "backend" && kind === "dynamic" ? [`local.mailDir=${join(dir, "mail")}`] : []),
      ...(role === "frontend" && withBalancer ? [`smtp.proxyProtocolFrom=${BALANCER_SOURCE}/32`] : []),
    ];
    const child = spawnDetached(
      process.execPath,
      [BIN, "start", ...sets.flatMap((s) => ["--set", s])],
      dir,
      log,
      io.env,
    );
    started.push(child);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const text = await readFile(log, "utf8").catch(() => "");
      const ports = startedPorts(text, id);
      if (ports !== null) return { id, role, pid: child.pid, ...ports, dataDir, log };
      const code = child.exitCode();
      if (code !== null) {
        const tail = text.trim().split("\n").slice(-3).join(" | ");
        throw new CliError(`cluster up: ${id} exited with ${code} while starting: ${tail} (log: ${log})`);
      }
      if (Date.now() > deadline) throw new CliError(`cluster up: ${id} did not start in time (log: ${log})`);
      await sleep(POLL_MS);
    }
  };

  try {
    // Backends first, so the frontends see them on their first heartbeat.
    const ids = (prefix: string, n: number): string[] =>
      Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
    const backends = await Promise.all(ids("b", nb).map((id) => startNode(id, "backend")));
    const frontends = await Promise.all(ids("f", nf).map((id) => startNode(id, "frontend")));
    const members = [...frontends, ...backends];
    const all = members.map((m) => m.id);

    // Ready when every member reports every other as live (each has seen each other's beat).
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const views = await Promise.all(members.map((m) => healthLive(m.http)));
      if (views.every((h) => h !== null && all.every((id) => h.live.includes(id)))) break;
      const dead = members.find((m) => !processAlive(m.pid));
      if (dead !== undefined) throw new CliError(`cluster up: ${dead.id} stopped (log: ${dead.log})`);
      if (Date.now() > deadline)
        throw new CliError("cluster up: the members did not all see each other in time");
      await sleep(POLL_MS * 2);
    }

    let balancer: RunFile["balancer"] = null;
    if (withBalancer) {
      const port = await freePort();
      const submissions = await freePort();
      const config = join(dir, "haproxy.cfg");
      await writeFile(
        config,
        renderHaproxyConfig({
          listen: `127.0.0.1:${port}`,
          submissionsListen: `127.0.0.1:${submissions}`,
          frontends: frontends.map((f) => ({
            id: f.id,
            smtp: `127.0.0.1:${f.smtp}`,
            submissions: f.submissions ? `127.0.0.1:${f.submissions}` : "",
          })),
          proxyVersion: 2,
          source: BALANCER_SOURCE,
        }),
        { mode: 0o600 },
      );
      const log = join(dir, "haproxy.log");
      const child = spawnDetached(HAPROXY_PATH, ["-f", config, "-db"], dir, log, io.env);
      started.push(child);
      const until = Date.now() + START_TIMEOUT_MS;
      while (!(await portOpen(port))) {
        if (child.exitCode() !== null)
          throw new CliError(`cluster up: haproxy exited with ${child.exitCode()} (log: ${log})`);
        if (Date.now() > until)
          throw new CliError(`cluster up: haproxy did not listen in time (log: ${log})`);
        await sleep(POLL_MS);
      }
      balancer = { pid: child.pid, port, submissions, config, log };
    }

    const run: RunFile = { version: 1, dir, kind, startedAt: new Date().toISOString(), members, balancer };
    await writeFile(join(dir, RUN_FILE), JSON.stringify(run, null, 2) + "\n", { mode: 0o600 });
    io.out(JSON.stringify(run, null, 2));
  } catch (e) {
    const left = await stopPids(started.map((s) => s.pid));
    const note = left.length > 0 ? ` (still running: ${left.join(" ")})` : "";
    throw e instanceof CliError
      ? new CliError(e.message + note)
      : new CliError(`cluster up: ${errorText(e)}${note}`);
  }
}

async function down(io: CliIo, dir: string): Promise<void> {
  const run = await readRunFile(dir);
  if (run === null) throw new CliError(`cluster down: no cluster run file in ${dir}`);
  // The balancer first (no new clients), then frontends, then backends (they take the last handovers).
  const left = await stopPids(pidsOf(run));
  if (left.length > 0) throw new CliError(`cluster down: pids ${left.join(" ")} would not stop`);
  await rm(join(dir, RUN_FILE), { force: true });
  io.out(`stopped ${pidsOf(run).length} processes of the cluster in ${dir}`);
}

async function status(io: CliIo, dir: string, json: boolean): Promise<void> {
  const run = await readRunFile(dir);
  if (run === null) throw new CliError(`cluster status: no cluster run file in ${dir}`);
  const state = openSqliteClusterState(join(dir, "state.db"), systemClock);
  let records;
  let homes;
  let leases;
  try {
    records = await state.members();
    homes = await state.homes();
    leases = await state.leases(systemClock.now());
  } finally {
    await state.close();
  }
  const members = await Promise.all(
    run.members.map(async (m) => {
      const h = processAlive(m.pid) ? await healthLive(m.http) : null;
      const rec = records.find((r) => r.id === m.id);
      return {
        id: m.id,
        role: m.role,
        health: h !== null ? "live" : "down",
        pid: m.pid,
        queue: h?.queue ?? rec?.queueSize ?? null,
        smtp: m.smtp,
        http: m.http,
        channel: m.channel,
      };
    }),
  );
  const balancer =
    run.balancer === null
      ? null
      : {
          port: run.balancer.port,
          submissions: run.balancer.submissions ?? null,
          pid: run.balancer.pid,
          health: processAlive(run.balancer.pid) ? "live" : "down",
        };
  if (json) {
    io.out(JSON.stringify({ dir, kind: run.kind, members, balancer, homes, owners: leases }, null, 2));
    return;
  }
  for (const m of members)
    io.out(
      `${m.id}\t${m.role}\t${m.health}\tqueue=${m.queue ?? "-"}\tsmtp=${m.smtp} http=${m.http}\tpid=${m.pid}`,
    );
  if (balancer !== null)
    io.out(
      `haproxy\tbalancer\t${balancer.health}\tport=${balancer.port} submissions=${balancer.submissions ?? "-"}\tpid=${balancer.pid}`,
    );
  for (const h of homes) io.out(`home\t${h.account}\t${h.node}`);
  for (const l of leases) io.out(`owner\t${l.account}\t${l.owner}`);
}

export async function localClusterCommand(io: CliIo, verb: string, v: LocalClusterValues): Promise<void> {
  const dir = resolve(io.cwd, v.data ?? DEFAULT_CLUSTER_DIR);
  switch (verb) {
    case "up":
      return up(io, dir, v);
    case "down":
      return down(io, dir);
    case "status":
      return status(io, dir, v.json === true);
  }
  throw new UsageError(`unknown command: cluster ${verb}`);
}
