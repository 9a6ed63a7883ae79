// One node per data directory: a second `mailyard start` on a directory in use exits 2 naming the
// directory and the holder's pid, before it has touched any queue file; a lock left by a node
// killed with SIGKILL does not stop the next start.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));

interface Started {
  readonly child: ChildProcess;
  /** Exit code (null after a signal). */
  readonly exited: Promise<number | null>;
  /** Resolves once the node logged "started"; rejects when it exited first. */
  readonly started: Promise<void>;
  output(): string;
}

function start(dataDir: string): Started {
  const sets = [
    "smtp.listen=127.0.0.1:0",
    "submission.listen=",
    "submissions.listen=",
    "pop3.listen=",
    "http.listen=127.0.0.1:0",
  ];
  const child = spawn(
    process.execPath,
    [
      join(root, "bin/mailyard.js"),
      "start",
      "--set",
      `dataDir=${dataDir}`,
      ...sets.flatMap((s) => ["--set", s]),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const started = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (/ SYSTEM-\d+\(\) started /.test(out)) resolve();
    });
    void exited.then((code) => reject(new Error(`exited with ${code} before starting: ${out}`)));
  });
  started.catch(() => undefined);
  return { child, exited, started, output: () => out };
}

/** Resolves with the exit code, or kills the child and fails after timeoutMs. */
async function exitWithin(s: Started, timeoutMs: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      s.child.kill("SIGKILL");
      reject(new Error(`still running after ${timeoutMs} ms: ${s.output()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([s.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const listing = async (dir: string): Promise<Record<string, string[]>> => {
  const out: Record<string, string[]> = {};
  for (const sub of ["tmp", "active", "corrupt", "state"]) {
    out[sub] = (await readdir(join(dir, sub)).catch(() => [])).sort();
  }
  return out;
};

void test("a second start on a data directory in use exits 2 and touches no queue file", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-lock-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const first = start(dataDir);
  t.after(() => void first.child.kill("SIGKILL"));
  await first.started;

  // What the first node's queue holds mid-work: a receive in progress (tmp/) and a file its
  // recovery would move aside. A second node's queue recovery would delete or move both.
  const queue = join(dataDir, "queue");
  await mkdir(join(queue, "tmp"), { recursive: true });
  await writeFile(join(queue, "tmp", "1KX2receiving"), "half a message");
  await writeFile(join(queue, "active", "not-a-queue-id"), "junk");
  const before = await listing(queue);

  const second = start(dataDir);
  t.after(() => void second.child.kill("SIGKILL"));
  const code = await exitWithin(second, 20_000);
  assert.equal(code, 2, second.output());
  assert.match(
    second.output(),
    new RegExp(`data directory ${dataDir} is in use .*\\(pid ${first.child.pid}\\)`),
  );
  assert.deepEqual(await listing(queue), before, "the second start changed the queue directory");

  first.child.kill("SIGTERM");
  assert.equal(await exitWithin(first, 20_000), 0, first.output());
});

void test("the lock of a node killed with SIGKILL does not block the next start", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-lock-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const first = start(dataDir);
  t.after(() => void first.child.kill("SIGKILL"));
  await first.started;
  first.child.kill("SIGKILL");
  await exitWithin(first, 20_000);

  const next = start(dataDir);
  t.after(() => void next.child.kill("SIGKILL"));
  await next.started;
  next.child.kill("SIGTERM");
  assert.equal(await exitWithin(next, 20_000), 0, next.output());
});
