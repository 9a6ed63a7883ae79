// A private HAProxy (Debian's /usr/sbin/haproxy, never the system service) in the foreground on
// a free loopback port, with the config the caller renders for that port. Ready when its port
// accepts a connection; stopped (and waited for) by the caller. Shared by the benchmark's cluster
// scenarios and the tests (test/kit/haproxy.ts re-exports it: the bench may not import test/).
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./ports.js";

export const HAPROXY = "/usr/sbin/haproxy";

export interface Haproxy {
  /** The port HAProxy listens on (127.0.0.1). */
  readonly port: number;
  readonly pid: number;
  /** What HAProxy wrote to stdout and stderr so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** config: the haproxy.cfg text for the given listen port (HAProxy takes no port 0). */
export async function startHaproxy(config: (port: number) => string): Promise<Haproxy> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-haproxy-"));
  const port = await freePort();
  const cfg = join(dir, "haproxy.cfg");
  await writeFile(cfg, config(port));
  // -db: foreground, no daemon. Both streams piped so nothing leaks into test output.
  const child = spawn(HAPROXY, ["-f", cfg, "-db"], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  let exitCode: number | null = null;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code) => {
      exitCode = code ?? -1;
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (exitCode === null) {
      child.kill("SIGTERM");
      const hard = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(hard);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // A config HAProxy refuses makes it exit at once: fail with its message, not a timeout.
    await Promise.race([
      waitForPort(port, 15_000),
      exited.then(() => {
        throw new Error(`haproxy exited with ${exitCode}`);
      }),
    ]);
  } catch (e) {
    await stop();
    throw new Error(`haproxy did not start: ${output}`, { cause: e });
  }
  return { port, pid: child.pid!, output: () => output, stop };
}
