// The cluster roles as an operator runs them: `mailyard start --set role=... --set node.id=...`
// as child processes on one machine, sharing one state file, with real heartbeats. A backend
// and a frontend join and see each other (`mailyard cluster members`), an account gets its home
// (`mailyard cluster home`), mail sent to the frontend lands in the backend's Maildir, and a
// backend killed with SIGKILL (no goodbye) is marked down once its heartbeats stop.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "../kit/load.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { mailyard } from "../cli/run-cli.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const SECRET = "process-test-cluster-secret-0042";

interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly smtp: number;
  readonly http: number;
}

/** Starts a node and resolves once it logged "started" (which names the ports the OS chose). */
async function start(t: TestContext, sets: string[]): Promise<Started> {
  const args = [join(root, "bin/mailyard.js"), "start", ...sets.flatMap((s) => ["--set", s])];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.after(() => void child.kill("SIGKILL"));
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const ports = await new Promise<{ smtp: number; http: number }>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = / started .*smtp=127\.0\.0\.1:(\d+) .*http=127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ smtp: Number(m[1]), http: Number(m[2]) });
    });
    void exited.then((code) => reject(new Error(`start exited with ${code} before starting: ${err}${out}`)));
  });
  return { child, exited, ...ports };
}

test("mailyard start with role=backend and role=frontend: join, deliver, and down when heartbeats stop", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-procs-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const state = `state.url=${join(dir, "state.db")}`;
  const common = [
    state,
    `cluster.secret=${SECRET}`,
    "cluster.heartbeatSeconds=1",
    "cluster.downAfterSeconds=2",
    "smtp.listen=127.0.0.1:0",
    "submission.listen=",
    "submissions.listen=",
    "pop3.listen=",
    "http.listen=127.0.0.1:0",
    "smtp.outbound.starttls=false",
  ];
  const cli = (args: string[]) => mailyard([...args, "--set", state, "--set", "cluster.downAfterSeconds=2"]);
  const members = async (): Promise<{ id: string; role: string; up: boolean }[]> => {
    const r = await cli(["cluster", "members", "--json"]);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as { id: string; role: string; up: boolean }[];
  };

  const b1 = await start(t, [
    ...common,
    "role=backend",
    "node.id=b1",
    `dataDir=${join(dir, "b1")}`,
    "channel.listen=127.0.0.1:0",
  ]);
  const f1 = await start(t, [...common, "role=frontend", "node.id=f1", `dataDir=${join(dir, "f1")}`]);
  const both = (await members()).map((m) => `${m.id}:${m.role}:${m.up}`);
  assert.deepEqual(both, ["b1:backend:true", "f1:frontend:true"]);

  const adminSets = ["--set", `dataDir=${join(dir, "b1")}`, "--set", `http.listen=127.0.0.1:${b1.http}`];
  assert.equal((await mailyard(["domain", "add", "example.test", ...adminSets])).code, 0);
  assert.equal(
    (await mailyard(["account", "add", "alice@example.test", "--password", "pw", ...adminSets])).code,
    0,
  );
  const home = await cli(["cluster", "home", "alice@example.test", "b1"]);
  assert.equal(home.code, 0, home.err);
  assert.equal((await cli(["cluster", "home", "alice@example.test"])).out.trim(), "b1");
  const homes = await cli(["cluster", "homes"]);
  assert.equal(homes.out, "alice@example.test\tb1\n");
  const text = await cli(["cluster", "members"]);
  assert.match(
    text.out,
    /^b1\tbackend\tup\tsmtp=127\.0\.0\.1:\d+ http=127\.0\.0\.1:\d+ channel=127\.0\.0\.1:\d+\t/m,
  );
  assert.match(text.out, /^f1\tfrontend\tup\t.* channel=-\t/m);
  const notBackend = await cli(["cluster", "home", "alice@example.test", "f1"]);
  assert.equal(notBackend.code, 1);
  assert.match(notBackend.err, /f1 is a frontend, not a backend/);

  // The frontend learns of b1 from its own heartbeats (it started second, so it saw b1 at once).
  const c = await SmtpClient.connect(f1.smtp);
  t.after(() => c.close());
  await c.expect(220);
  await c.cmd("EHLO client.test", 250);
  await c.cmd("MAIL FROM:<someone@remote.test>", 250);
  await c.cmd("RCPT TO:<alice@example.test>", 250);
  await c.cmd("RCPT TO:<nobody@example.test>", 550);
  await c.cmd("DATA", 354);
  await c.cmd("Subject: via f1\r\n\r\nhi\r\n.", 250);
  await c.cmd("QUIT", 221);
  const box = join(dir, "b1", "mail", "example.test", "alice", "new");
  await waitFor("alice's mail on b1", async () => (await readdir(box).catch(() => [])).length === 1);

  const health = async (): Promise<{ live: string[] }> =>
    (await (await fetch(`http://127.0.0.1:${f1.http}/healthz`)).json()) as { live: string[] };
  assert.deepEqual((await health()).live, ["b1", "f1"]);
  b1.child.kill("SIGKILL");
  await b1.exited;
  await waitFor(
    "b1 down in the state",
    async () => !(await members()).find((m) => m.id === "b1")!.up,
    15_000,
  );
  await waitFor("b1 gone from f1's view", async () => !(await health()).live.includes("b1"), 15_000);
  assert.equal((await members()).find((m) => m.id === "f1")!.up, true);

  f1.child.kill("SIGTERM");
  assert.equal(await f1.exited, 0);
  assert.equal((await members()).find((m) => m.id === "f1")!.up, false);
});
