// Real cluster members as child processes for the fault tests: `node bin/mailyard.js start
// --set role=... --set node.id=...` on 127.0.0.1 with ports the OS picks, sharing one SQLite
// state file in a temp dir, or (option stateUrl) only a PostgreSQL database, as members on
// separate machines do; each with its own data directory. A member is ready when it logs
// "started" (which names its ports); it has joined another's view when that member's /healthz
// lists it. Every child is killed (SIGKILL) and awaited in t.after, also when the test fails,
// and the temp dir removed. The test opens the state file itself (directory and cluster state)
// to add accounts, set homes and read leases, with the system clock the members also use.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openPostgresClusterState } from "../../src/cluster/pg-state.js";
import { openSqliteClusterState } from "../../src/cluster/sqlite-state.js";
import type { ClusterState } from "../../src/cluster/state.js";
import type { Directory } from "../../src/directory/directory.js";
import { openPostgresDirectory } from "../../src/directory/postgres.js";
import { openSqliteDirectory } from "../../src/directory/sqlite.js";
import { openPg } from "../../src/state/pg.js";
import { systemClock } from "../../src/world/clock.js";
import { waitFor } from "../kit/load.js";
import { freshDatabase } from "../kit/postgres.js";

const bin = join(fileURLToPath(new URL("../../../", import.meta.url)), "bin", "mailyard.js");
export const SECRET = "fault-test-cluster-secret-000042";

type After = { after(fn: () => Promise<void>): void };

export interface Member {
  readonly id: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Exit code (null after a signal), once the process has gone. */
  readonly exited: Promise<number | null>;
  readonly smtp: number;
  readonly http: number;
  /** The first submission listener's port, when it has one. */
  readonly submission: number | null;
  /** The delivery channel port (backends), else null. */
  readonly channel: number | null;
  /** Every stdout line so far. */
  lines(): readonly string[];
  /** Resolves once a stdout line matches (bounded). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends the signal and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** The node's health document (queue size, live members). */
  health(): Promise<{ queue: number; live: string[]; submit?: { mode: string; offering: string[] } }>;
}

export interface ProcCluster {
  readonly root: string;
  /** What every member has as state.url. */
  readonly stateUrl: string;
  readonly directory: Directory;
  readonly state: ClusterState;
  /** Starts a member; sets are `key=value`, over the kit's defaults. */
  start(
    id: string,
    role: "frontend" | "backend" | "single",
    sets?: readonly string[],
    dataDir?: string,
  ): Promise<Member>;
  /** Waits until every one of `viewers` sees all of `ids` live. */
  waitLive(viewers: readonly Member[], ids: readonly string[], timeoutMs?: number): Promise<void>;
}

/** Subject tags (load-N) of the messages in an account's Maildir new/ under a mail root. */
export async function maildirTags(mailRoot: string, address: string): Promise<string[]> {
  const [local = "", domain = ""] = address.split("@");
  const dir = join(mailRoot, domain, local, "new");
  const names = await readdir(dir).catch(() => []);
  const texts = await Promise.all(names.map((n) => readFile(join(dir, n), "latin1").catch(() => "")));
  return texts.flatMap((t) => [...t.matchAll(/^Subject: (load-\d+)\r$/gm)].map((m) => m[1]!));
}

/** The file names and contents of an account's Maildir new/. */
export async function maildir(mailRoot: string, address: string): Promise<{ name: string; text: string }[]> {
  const [local = "", domain = ""] = address.split("@");
  const dir = join(mailRoot, domain, local, "new");
  const names = (await readdir(dir).catch(() => [])).sort();
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(join(dir, name), "latin1") })));
}

const port = (line: string, key: string): number | null => {
  const m = new RegExp(` ${key}=127\\.0\\.0\\.1:(\\d+)`).exec(line);
  return m === null ? null : Number(m[1]);
};

export interface ProcClusterOptions {
  /**
   * Share a fresh PostgreSQL database instead of a SQLite file: on the test server (true), or on
   * the server whose maintenance URL is given (a private instance). Dropped after the members stop.
   */
  readonly postgres?: true | string;
}

export async function startProcCluster(
  t: After,
  common: readonly string[] = [],
  o: ProcClusterOptions = {},
): Promise<ProcCluster> {
  const root = await mkdtemp(join(tmpdir(), "mailyard-faults-"));
  const running = new Set<Member>();
  let directory: Directory | null = null;
  let state: ClusterState | null = null;
  t.after(async () => {
    for (const m of running) m.child.kill("SIGKILL");
    await Promise.all([...running].map((m) => m.exited));
    await state?.close();
    await directory?.close();
    await rm(root, { recursive: true, force: true });
  });
  // After the cleanup above is registered, so the database is dropped after the members are gone.
  const stateUrl =
    o.postgres === undefined
      ? join(root, "state.db")
      : await freshDatabase(t, o.postgres === true ? undefined : o.postgres);
  if (o.postgres !== undefined) {
    const pg = openPg(stateUrl);
    directory = await openPostgresDirectory(pg.retain(), systemClock);
    state = await openPostgresClusterState(pg, systemClock);
  } else {
    directory = openSqliteDirectory(stateUrl, systemClock);
    state = openSqliteClusterState(stateUrl, systemClock);
  }

  const defaults = [
    `state.url=${stateUrl}`,
    `cluster.secret=${SECRET}`,
    "cluster.heartbeatSeconds=1",
    "cluster.downAfterSeconds=2",
    "smtp.listen=127.0.0.1:0",
    "submission.listen=",
    "submissions.listen=",
    "pop3.listen=",
    "http.listen=127.0.0.1:0",
    "channel.listen=127.0.0.1:0",
    "smtp.outbound.starttls=false",
    // Retries within seconds, so a test sees them happen.
    "queue.firstRetrySeconds=1",
    "queue.maxRetrySeconds=2",
    ...common,
  ];

  const start = async (
    id: string,
    role: "frontend" | "backend" | "single",
    sets: readonly string[] = [],
    dataDir = join(root, id),
  ): Promise<Member> => {
    const all = [
      ...defaults,
      `role=${role}`,
      `node.id=${id}`,
      `hostname=${id}.cluster.test`,
      `dataDir=${dataDir}`,
    ];
    const args = [bin, "start", ...[...all, ...sets].flatMap((s) => ["--set", s])];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const lines: string[] = [];
    let partial = "";
    let stderr = "";
    const watchers = new Set<() => void>();
    child.stdout.on("data", (d: Buffer) => {
      const parts = (partial + d.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
      for (const w of [...watchers]) w();
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const waitForLine = (re: RegExp, timeoutMs = 30_000): Promise<string> =>
      new Promise((resolve, reject) => {
        let seen = 0;
        const check = (): void => {
          for (; seen < lines.length; seen++) {
            if (re.test(lines[seen]!)) return done(() => resolve(lines[seen]!));
          }
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`${id}: no line ${re} within ${timeoutMs} ms`))),
          timeoutMs,
        );
        const gone = (): void =>
          done(() => reject(new Error(`${id} exited before logging ${re}: ${stderr.slice(-2000)}`)));
        const done = (fn: () => void): void => {
          clearTimeout(timer);
          watchers.delete(check);
          child.off("exit", gone);
          fn();
        };
        watchers.add(check);
        child.once("exit", gone);
        check();
      });
    const placeholder = { child, exited } as unknown as Member;
    running.add(placeholder);
    const started = await waitForLine(/ SYSTEM-\d+\(\) started /);
    const http = port(started, "http");
    const smtp = port(started, "smtp");
    if (http === null || smtp === null) throw new Error(`${id}: cannot read ports from ${started}`);
    const member: Member = {
      id,
      dataDir,
      child,
      pid: child.pid ?? 0,
      exited,
      smtp,
      http,
      channel: port(started, "channel"),
      submission: port(started, "submission"),
      lines: () => lines,
      waitForLine,
      async kill(signal) {
        child.kill(signal);
        return exited;
      },
      async health() {
        const r = await fetch(`http://127.0.0.1:${http}/healthz`);
        return (await r.json()) as {
          queue: number;
          live: string[];
          submit?: { mode: string; offering: string[] };
        };
      },
    };
    running.delete(placeholder);
    running.add(member);
    void exited.then(() => running.delete(member));
    return member;
  };

  return {
    root,
    stateUrl,
    directory,
    state,
    start,
    async waitLive(viewers, ids, timeoutMs = 15_000) {
      for (const v of viewers) {
        await waitFor(
          `${ids.join(",")} live in ${v.id}'s view`,
          async () => {
            const live = (await v.health().catch(() => ({ live: [] as string[] }))).live;
            return ids.every((id) => live.includes(id));
          },
          timeoutMs,
        );
      }
    },
  };
}
