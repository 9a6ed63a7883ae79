// The processes `mailyard cluster up` starts and `down` stops: detached children with their
// output in a log file, liveness that a recycled pid or a zombie cannot fake, and a stop that
// escalates from SIGTERM to SIGKILL within a bound. Loopback ports for HAProxy, which takes no
// port 0, are asked of the OS. Only pids this CLI started (from its run file) come here.
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import net from "node:net";
import { CliError } from "./io.js";

const STOP_GRACE_MS = 15_000;
const KILL_WAIT_MS = 5_000;
export const POLL_MS = 50;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Alive, not a zombie, and still the program we started (pids get reused). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (/^\d+ \(.*\) Z/s.test(stat)) return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.includes("mailyard") || cmdline.includes("haproxy");
  } catch {
    // No /proc (not Linux): kill(0) is all we know.
    return existsSync("/proc/self") ? false : true;
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const c = net.connect({ host: "127.0.0.1", port });
    c.once("connect", () => {
      c.destroy();
      done(true);
    });
    c.once("error", () => done(false));
  });
}

export interface Spawned {
  readonly pid: number;
  /** Exit code once it has exited while we watched; null while running. */
  exitCode(): number | null;
}

export function spawnDetached(
  command: string,
  args: string[],
  cwd: string,
  log: string,
  env: NodeJS.ProcessEnv,
): Spawned {
  const fd = openSync(log, "a", 0o600);
  let code: number | null = null;
  try {
    // Detached with stdio to a file: the process outlives this command and holds none of its pipes.
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ["ignore", fd, fd] });
    if (child.pid === undefined) throw new CliError(`cannot start ${command}`);
    child.once("exit", (c, signal) => (code = c ?? (signal !== null ? 128 : -1)));
    child.unref();
    return { pid: child.pid, exitCode: () => code };
  } finally {
    closeSync(fd);
  }
}

/** Signals every live pid, waits up to the grace period, then SIGKILLs what is left. */
export async function stopPids(pids: readonly number[]): Promise<number[]> {
  const signal = (pid: number, s: NodeJS.Signals): void => {
    try {
      process.kill(pid, s);
    } catch {
      // Gone meanwhile: nothing to stop.
    }
  };
  const alive = pids.filter(processAlive);
  for (const pid of alive) signal(pid, "SIGTERM");
  const waitGone = async (ms: number): Promise<number[]> => {
    const deadline = Date.now() + ms;
    let left = alive.filter(processAlive);
    while (left.length > 0 && Date.now() < deadline) {
      await sleep(POLL_MS);
      left = left.filter(processAlive);
    }
    return left;
  };
  const stubborn = await waitGone(STOP_GRACE_MS);
  for (const pid of stubborn) signal(pid, "SIGKILL");
  return waitGone(KILL_WAIT_MS);
}
