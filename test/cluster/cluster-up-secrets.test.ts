// What a local unprivileged user can learn from a cluster made by `mailyard cluster up`
// (issue 15, item 5): nothing. The test runs as root and looks as `nobody` would: it reads
// /proc/PID/cmdline of every process `up` started (readable by every user) and must not find
// the cluster secret there; it tries to read the state database, the secret and key files,
// logs, queue and Maildir, and must fail; and every file and directory `up` and the members
// made is the owner's alone (no group or other bits), so that holds under any parent directory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, lstat, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../kit/load.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { mailyard } from "../cli/run-cli.js";

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

/** Runs a command as nobody: its exit status and output. */
function asNobody(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { uid: NOBODY, gid: NOBODY, encoding: "utf8", timeout: 10_000 });
  return { status: r.status, out: r.stdout };
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    out.push(p);
    if ((await lstat(p)).isDirectory()) await walk(p, out);
  }
  return out;
}

test(
  "cluster up: no secret on any command line, nothing under DIR readable by another local user",
  { timeout: 180_000, skip: asRoot ? false : "needs root to act as nobody" },
  async (t) => {
    // The parent is open to everyone (as ./data of a checkout may be), so only the modes of
    // what `up` makes protect it.
    const parent = await mkdtemp(join(tmpdir(), "mailyard-up-secrets-"));
    await chmod(parent, 0o755);
    const dir = join(parent, "cluster");
    let pids: number[] = [];
    t.after(async () => {
      await mailyard(["cluster", "down", "--data", dir]);
      for (const pid of pids.filter(running)) process.kill(pid, "SIGKILL");
      await rm(parent, { recursive: true, force: true });
    });

    const upRun = await mailyard(["cluster", "up", "--frontends", "1", "--backends", "1", "--data", dir]);
    assert.equal(upRun.code, 0, upRun.err);
    const up = JSON.parse(upRun.out) as {
      members: { id: string; pid: number; smtp: number; http: number; dataDir: string }[];
      balancer: { pid: number } | null;
    };
    pids = [...up.members.map((m) => m.pid), ...(up.balancer !== null ? [up.balancer.pid] : [])];
    const secret = (await readFile(join(dir, "cluster.secret"), "utf8")).trim();
    assert.ok(secret.length >= 32);

    for (const pid of pids) {
      const r = asNobody("cat", [`/proc/${pid}/cmdline`]);
      assert.equal(r.status, 0, `nobody reads /proc/${pid}/cmdline`);
      assert.ok(r.out.length > 0);
      assert.ok(!r.out.includes(secret), `the secret is on the command line of pid ${pid}`);
      assert.ok(!r.out.includes(secret.slice(0, 16)), `part of the secret on the command line of pid ${pid}`);
    }

    // Mail through the frontend into b1's Maildir, so queue and mailbox files exist.
    const f1 = up.members.find((m) => m.id === "f1")!;
    const b1 = up.members.find((m) => m.id === "b1")!;
    const via = ["--set", `dataDir=${f1.dataDir}`, "--set", `http.listen=127.0.0.1:${f1.http}`];
    assert.equal((await mailyard(["domain", "add", "example.test", ...via])).code, 0);
    const added = await mailyard(["account", "add", "alice@example.test", "--password", "pw", ...via]);
    assert.equal(added.code, 0, added.err);
    const c = await SmtpClient.connect(f1.smtp);
    try {
      await c.expect(220);
      await c.cmd("EHLO client.test", 250);
      await c.cmd("MAIL FROM:<someone@remote.test>", 250);
      await c.cmd("RCPT TO:<alice@example.test>", 250);
      await c.cmd("DATA", 354);
      await c.cmd("Subject: private\r\n\r\nHello.\r\n.", 250);
      await c.cmd("QUIT", 221);
    } finally {
      c.close();
    }
    const box = join(b1.dataDir, "mail", "example.test", "alice", "new");
    await waitFor(
      "alice's mail on b1",
      async () => (await readdir(box).catch(() => [])).length === 1,
      30_000,
    );
    const message = join(box, (await readdir(box))[0]!);

    for (const file of [
      join(dir, "cluster.secret"),
      join(dir, "rpop.key"),
      join(dir, "state.db"),
      join(dir, "state.db-wal"),
      join(dir, "f1.log"),
      message,
    ])
      assert.notEqual(asNobody("cat", [file]).status, 0, `nobody reads ${file}`);
    assert.notEqual(asNobody("ls", [join(b1.dataDir, "queue")]).status, 0, "nobody lists b1's queue");

    const open: string[] = [];
    for (const p of [dir, ...(await walk(dir))]) {
      const st = await lstat(p).catch(() => null);
      // Gone meanwhile (a queue file delivered, a temporary file renamed).
      if (st === null || st.isSymbolicLink() || st.isSocket()) continue;
      if ((st.mode & 0o077) !== 0) open.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    }
    assert.deepEqual(open, [], "files or directories with group or other permissions");
  },
);
