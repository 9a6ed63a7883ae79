// Postfix's smtp-sink as a real SMTP peer: started on a free loopback port with each message
// dumped to a file, so tests count and read what arrived. Stopped by the test.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./ports.js";

export interface Sink {
  readonly port: number;
  readonly dir: string;
  /** Messages dumped so far (file contents). */
  messages(): Promise<string[]>;
  count(): Promise<number>;
  stop(): Promise<void>;
}

/** extra: smtp-sink options such as ["-f", "rcpt"] (hard-fail RCPT) or ["-r", "rcpt"] (soft). */
export async function startSink(
  extra: string[] = [],
  at: { host?: string; port?: number } = {},
): Promise<Sink> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-sink-"));
  const host = at.host ?? "127.0.0.1";
  const port = at.port ?? (await freePort());
  const child: ChildProcess = spawn(
    "/usr/sbin/smtp-sink",
    ["-u", "root", "-d", join(dir, "%Y%m%d%H/%M."), ...extra, `${host}:${port}`, "256"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitForPort(port, 15_000, host);
  } catch (e) {
    child.kill("SIGKILL");
    throw new Error(`smtp-sink did not start: ${stderr}`, { cause: e });
  }
  const files = async (): Promise<string[]> => {
    const out: string[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else out.push(p);
      }
    };
    await walk(dir);
    return out;
  };
  return {
    port,
    dir,
    count: async () => (await files()).length,
    messages: async () => Promise.all((await files()).map((f) => readFile(f, "utf8"))),
    async stop() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}
