// Mailyard under test: one `mailyard start` process per run with a fresh dataDir, its own
// loopback ports, relaying to the sink, logging to its dataDir only. Settings are the defaults
// except those passed here, each for the same reason as its Postfix counterpart. The local
// scenario's accounts are made once per benchmark (the directory is not what is measured) and
// copied into each run's dataDir.
import { spawn } from "node:child_process";
import { copyFile, cp, mkdir, readdir, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openSqliteDirectory } from "../src/directory/sqlite.js";
import { systemClock } from "../src/world/clock.js";
import { onCleanup } from "./cleanup.js";
import { freePort, waitForPort } from "./ports.js";
import { LOCAL_DOMAIN } from "./workload.js";
import type { Mta, MtaOptions } from "./mta.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Copies the compiled Mailyard (dist/src, bin, package.json; node_modules linked) into `dir`
 * and returns the copy's bin/mailyard.js. Every run then starts the same build, even when
 * dist/ in the working tree is rebuilt while the benchmark runs.
 */
export async function snapshotMailyard(dir: string): Promise<string> {
  await mkdir(join(dir, "dist"), { recursive: true });
  await cp(join(repo, "dist", "src"), join(dir, "dist", "src"), { recursive: true });
  await cp(join(repo, "bin"), join(dir, "bin"), { recursive: true });
  await copyFile(join(repo, "package.json"), join(dir, "package.json"));
  await symlink(join(repo, "node_modules"), join(dir, "node_modules"), "dir");
  return join(dir, "bin", "mailyard.js");
}

/**
 * Writes a directory database with the local domain and mailboxes u0..u(N-1), through the same
 * code `mailyard domain add` / `account add` use offline. Returns the directory holding it.
 */
export async function makeDirectoryTemplate(dir: string, mailboxes: number): Promise<string> {
  const directory = openSqliteDirectory(join(dir, "mailyard.db"), systemClock);
  try {
    await directory.addDomain(LOCAL_DOMAIN);
    for (let i = 0; i < mailboxes; i++) await directory.addAccount(`u${i}@${LOCAL_DOMAIN}`, "bench");
  } finally {
    await directory.close();
  }
  return dir;
}

export async function startMailyard(
  o: MtaOptions & {
    template: string | null;
    bin: string;
    profileDir?: string | null;
    /** Extra KEY=VALUE settings, after (so over) the harness's own. */
    sets?: readonly string[];
  },
): Promise<Mta & { readonly httpPort: number }> {
  if (o.template !== null) {
    for (const f of await readdir(o.template)) {
      if (f.startsWith("mailyard.db")) await copyFile(join(o.template, f), join(o.dir, f));
    }
  }
  const [smtp, submission, http] = [await freePort(), await freePort(), await freePort()];
  const sets = {
    dataDir: o.dir,
    "smtp.listen": `127.0.0.1:${smtp}`,
    "submission.listen": `127.0.0.1:${submission}`,
    "submissions.listen": "",
    "pop3.listen": "",
    "http.listen": `127.0.0.1:${http}`,
    "smtp.forwardTo": `127.0.0.1:${o.sinkPort}`,
    "log.stdout": "false",
    // Postfix's smtpd_client_connection_count_limit is lifted too (idle-connection scenario).
    "smtp.maxConnectionsPerIp": "2000",
  };
  // Nothing from the caller's environment or working directory (mailyard.toml) leaks in.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MAILYARD_")));
  // A profile is written when the process exits on SIGTERM (stop() below waits for that).
  const prof = o.profileDir ? ["--cpu-prof", "--cpu-prof-dir", o.profileDir] : [];
  const args = [
    ...prof,
    o.bin,
    "start",
    ...Object.entries(sets).flatMap(([k, v]) => ["--set", `${k}=${v}`]),
    ...(o.sets ?? []).flatMap((kv) => ["--set", kv]),
  ];
  const child = spawn(process.execPath, args, { cwd: o.dir, env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const stop = onCleanup(`mailyard in ${o.dir}`, async () => {
    if (alive()) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await gone;
      clearTimeout(timer);
    }
    await rm(o.dir, { recursive: true, force: true });
  });
  try {
    await waitForPort(smtp, 30_000, alive);
    await waitForPort(http, 30_000, alive);
  } catch (e) {
    await stop();
    throw new Error(`mailyard did not start: ${e instanceof Error ? e.message : String(e)}\n${stderr}`, {
      cause: e,
    });
  }
  return {
    name: "mailyard",
    pid: child.pid!,
    smtpPort: smtp,
    httpPort: http,
    maildirRoot: join(o.dir, "mail"),
    stop,
  };
}
