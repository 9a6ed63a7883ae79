// The harness's side of the load generator: forks bench/load-process.js for one run, sends the
// request and waits for the answer, bounded in time; the child is killed on every way out.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { aborted, onCleanup, throwIfAborted } from "./cleanup.js";
import type { LoadResult } from "./load.js";
import type { Workload } from "./workload.js";

export type LoadRequest =
  | { type: "run"; port: number; workload: Workload; timeoutMs: number }
  | { type: "idle"; port: number; count: number; timeoutMs: number };

export type LoadReply =
  | { type: "done"; result: LoadResult; cpuSeconds: number }
  | { type: "idle-ready"; opened: number; failed: number }
  | { type: "closed"; cpuSeconds: number }
  | { type: "error"; message: string };

const entry = fileURLToPath(new URL("./load-process.js", import.meta.url));

class LoadProcess {
  private readonly child: ChildProcess;
  private readonly replies: LoadReply[] = [];
  private waiter: ((r: LoadReply) => void) | null = null;
  readonly stop: () => Promise<void>;

  constructor() {
    throwIfAborted();
    this.child = fork(entry, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.on("message", (m: LoadReply) => this.deliver(m));
    // A send to a child already gone (killed on abort) reports here; its exit is handled below.
    this.child.on("error", () => undefined);
    this.child.once("exit", (code, signal) =>
      this.deliver({ type: "error", message: `load process exited (${signal ?? code})` }),
    );
    // An interrupted benchmark stops sending at once; the run then fails and unwinds.
    const kill = (): void => void this.child.kill("SIGKILL");
    aborted.addEventListener("abort", kill, { once: true });
    this.stop = onCleanup("load generator", async () => {
      aborted.removeEventListener("abort", kill);
      if (this.child.exitCode === null && this.child.signalCode === null) {
        this.child.kill("SIGKILL");
        await gone;
      }
    });
  }

  private deliver(m: LoadReply): void {
    const w = this.waiter;
    this.waiter = null;
    if (w) w(m);
    else this.replies.push(m);
  }

  send(m: LoadRequest | { type: "close" }): void {
    if (!this.child.connected) throw new Error("load process is gone");
    this.child.send(m);
  }

  next(timeoutMs: number): Promise<LoadReply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve({ type: "error", message: `load generator gave no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
    });
  }
}

function check<T extends LoadReply["type"]>(r: LoadReply, type: T): Extract<LoadReply, { type: T }> {
  if (r.type === "error") throw new Error(r.message);
  if (r.type !== type) throw new Error(`load generator answered ${r.type}, expected ${type}`);
  return r as Extract<LoadReply, { type: T }>;
}

export async function remoteLoad(
  port: number,
  workload: Workload,
  timeoutMs: number,
): Promise<{ result: LoadResult; cpuSeconds: number }> {
  const p = new LoadProcess();
  try {
    p.send({ type: "run", port, workload, timeoutMs });
    const done = check(await p.next(timeoutMs + 30_000), "done");
    return { result: done.result, cpuSeconds: done.cpuSeconds };
  } finally {
    await p.stop();
  }
}

export interface RemoteIdle {
  readonly opened: number;
  readonly failed: number;
  /** Closes the connections and ends the load process; returns its CPU seconds. */
  close(): Promise<number>;
}

export async function remoteIdle(port: number, count: number, timeoutMs: number): Promise<RemoteIdle> {
  const p = new LoadProcess();
  try {
    p.send({ type: "idle", port, count, timeoutMs });
    const ready = check(await p.next(timeoutMs + 30_000), "idle-ready");
    return {
      opened: ready.opened,
      failed: ready.failed,
      close: async () => {
        try {
          p.send({ type: "close" });
          return check(await p.next(30_000), "closed").cpuSeconds;
        } finally {
          await p.stop();
        }
      },
    };
  } catch (e) {
    await p.stop();
    throw e;
  }
}
