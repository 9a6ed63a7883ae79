// `mailyard start` as a child process: it logs to stdout and the daily file, serves the admin
// API the other commands use, and stops cleanly (exit 0) on SIGTERM.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mailyard } from "./run-cli.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

void test("start serves until SIGTERM, then stops and exits 0", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-start-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const sets = [
    "--set",
    `dataDir=${dataDir}`,
    "--set",
    "smtp.listen=127.0.0.1:0",
    "--set",
    "submission.listen=",
    "--set",
    "submissions.listen=",
    "--set",
    "pop3.listen=",
    "--set",
    "http.listen=127.0.0.1:0",
  ];
  const child = spawn(process.execPath, [join(root, "bin/mailyard.js"), "start", ...sets], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.after(() => void child.kill("SIGKILL"));
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  // Readiness is the "started" record, which names the admin port the OS chose.
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = / started .*http=127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`start exited with ${code} before starting: ${err}${out}`)));
  });

  const add = await mailyard([
    "domain",
    "add",
    "example.test",
    "--set",
    `dataDir=${dataDir}`,
    "--set",
    `http.listen=127.0.0.1:${port}`,
  ]);
  assert.equal(add.code, 0, add.err);
  const queue = await mailyard([
    "queue",
    "list",
    "--json",
    "--set",
    `dataDir=${dataDir}`,
    "--set",
    `http.listen=127.0.0.1:${port}`,
  ]);
  assert.equal(queue.code, 0, queue.err);
  assert.deepEqual(JSON.parse(queue.out), []);

  child.kill("SIGTERM");
  assert.equal(await exited, 0, err);
  assert.match(out, / ADMIN-000000\(\) admin request method=POST path=\/api\/domains status=201/);
  assert.match(out, / SYSTEM-000000\(\) stopping signal=SIGTERM/);
  const files = await readdir(join(dataDir, "logs"));
  assert.equal(files.length >= 1, true);
  const logged = (await Promise.all(files.map((f) => readFile(join(dataDir, "logs", f), "utf8")))).join("");
  assert.match(logged, /SYSTEM-000000\(\) stopped /);
});
