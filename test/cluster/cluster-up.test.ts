// `mailyard cluster up|status|down` end to end: two frontends and two backends as detached
// processes with one state file and secret, HAProxy in front when installed; accounts created
// through the CLI get their homes; mail sent to each frontend (and through HAProxy) lands in the
// home backend's Maildir; status shows every member live; a second `up` on the same DIR is
// refused; `down` stops every process it started. Whatever happens, t.after stops them all.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "../kit/load.js";
import { SmtpClient } from "../kit/smtp-client.js";
import { swaks } from "../kit/swaks.js";
import { mailyard } from "../cli/run-cli.js";

interface UpMember {
  id: string;
  role: string;
  pid: number;
  smtp: number;
  submission: number;
  http: number;
  channel: number | null;
  dataDir: string;
}
interface Up {
  dir: string;
  members: UpMember[];
  balancer: { pid: number; port: number; submissions: number } | null;
}

/** Running and not a zombie (nobody may reap a detached child here). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Port 465 through the balancer: implicit TLS, AUTH, one message (swaks, as a client would). */
async function sendOverTls(port: number, user: string, to: string, subject: string): Promise<string> {
  const args = ["--server", `127.0.0.1:${port}`, "--tlsc", "--timeout", "20", "--from", user, "--to", to];
  const auth = [
    "--auth",
    "PLAIN",
    "--auth-user",
    user,
    "--auth-password",
    "pw",
    "--header",
    `Subject: ${subject}`,
  ];
  const r = await swaks([...args, ...auth]);
  assert.equal(r.code, 0, r.out);
  return r.out;
}

async function send(port: number, to: string, subject: string): Promise<void> {
  const c = await SmtpClient.connect(port);
  try {
    await c.expect(220);
    await c.cmd("EHLO client.test", 250);
    await c.cmd("MAIL FROM:<someone@remote.test>", 250);
    await c.cmd(`RCPT TO:<${to}>`, 250);
    await c.cmd("DATA", 354);
    await c.cmd(`Subject: ${subject}\r\n\r\nHello.\r\n.`, 250);
    await c.cmd("QUIT", 221);
  } finally {
    c.close();
  }
}

test(
  "cluster up --frontends 2 --backends 2: mail lands on the homes; status; down stops everything",
  { timeout: 180_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "mailyard-up-"));
    let pids: number[] = [];
    t.after(async () => {
      await mailyard(["cluster", "down", "--data", dir]);
      for (const pid of pids.filter(running)) process.kill(pid, "SIGKILL");
      await rm(dir, { recursive: true, force: true });
    });

    const upRun = await mailyard(["cluster", "up", "--frontends", "2", "--backends", "2", "--data", dir]);
    assert.equal(upRun.code, 0, upRun.err);
    const up = JSON.parse(upRun.out) as Up;
    pids = [...up.members.map((m) => m.pid), ...(up.balancer !== null ? [up.balancer.pid] : [])];
    assert.deepEqual(
      up.members.map((m) => `${m.id}:${m.role}`),
      ["f1:frontend", "f2:frontend", "b1:backend", "b2:backend"],
    );
    for (const m of up.members) {
      assert.ok(running(m.pid), `${m.id} runs after cluster up returned`);
      assert.ok(m.smtp > 0 && m.http > 0 && m.submission > 0, `${m.id} ports`);
      assert.equal(m.channel !== null, m.role === "backend", `${m.id} channel`);
    }
    const member = (id: string): UpMember => up.members.find((m) => m.id === id)!;

    const again = await mailyard(["cluster", "up", "--frontends", "1", "--backends", "1", "--data", dir]);
    assert.equal(again.code, 1);
    assert.match(again.err, /already holds a running cluster/);

    // Directory commands through f1's admin API.
    const via = [
      "--set",
      `dataDir=${member("f1").dataDir}`,
      "--set",
      `http.listen=127.0.0.1:${member("f1").http}`,
    ];
    const cli = async (args: string[]): Promise<string> => {
      const r = await mailyard([...args, ...via]);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
      return r.out;
    };
    await cli(["domain", "add", "example.test"]);
    assert.match(
      await cli(["account", "add", "alice@example.test", "--password", "pw", "--home", "b1"]),
      /home b1/,
    );
    assert.match(
      await cli(["account", "add", "bob@example.test", "--password", "pw", "--home", "b2"]),
      /home b2/,
    );
    assert.match(await cli(["account", "add", "carol@example.test", "--password", "pw"]), /home b[12]/);

    await send(member("f1").smtp, "alice@example.test", "via f1");
    await send(member("f2").smtp, "bob@example.test", "via f2");
    if (up.balancer !== null) {
      await send(up.balancer.port, "alice@example.test", "via haproxy");
      // Port 465's stand-in: the balancer passes the TLS through to a frontend's submissions listener.
      assert.ok(up.balancer.submissions > 0, "the balancer has a submissions port");
      assert.match(
        await sendOverTls(up.balancer.submissions, "alice@example.test", "alice@example.test", "via 465"),
        /TLS started/,
      );
    }
    const box = (node: string, user: string) => join(dir, node, "mail", "example.test", user, "new");
    const count = async (node: string, user: string) =>
      (await readdir(box(node, user)).catch(() => [])).length;
    const aliceWants = up.balancer !== null ? 3 : 1;
    await waitFor("alice's mail on b1", async () => (await count("b1", "alice")) === aliceWants, 30_000);
    await waitFor("bob's mail on b2", async () => (await count("b2", "bob")) === 1, 30_000);
    assert.equal(await count("b2", "alice"), 0);
    assert.equal(await count("b1", "bob"), 0);

    const st = await mailyard(["cluster", "status", "--data", dir, "--json"]);
    assert.equal(st.code, 0, st.err);
    const status = JSON.parse(st.out) as {
      members: { id: string; health: string; queue: number | null }[];
      homes: { account: string; node: string }[];
    };
    assert.deepEqual(
      status.members.map((m) => `${m.id}:${m.health}`),
      ["f1:live", "f2:live", "b1:live", "b2:live"],
    );
    assert.ok(status.members.every((m) => typeof m.queue === "number"));
    assert.deepEqual(
      status.homes.filter((h) => h.account !== "carol@example.test"),
      [
        { account: "alice@example.test", node: "b1" },
        { account: "bob@example.test", node: "b2" },
      ],
    );

    const down = await mailyard(["cluster", "down", "--data", dir]);
    assert.equal(down.code, 0, down.err);
    for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} stopped`);
    const after = await mailyard(["cluster", "status", "--data", dir]);
    assert.equal(after.code, 1);
    assert.match(after.err, /no cluster run file/);
  },
);

test(
  "cluster up --dynamic: no homes; the storing backend takes the account's lease, status shows the owner",
  { timeout: 120_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "mailyard-up-dyn-"));
    let pids: number[] = [];
    t.after(async () => {
      await mailyard(["cluster", "down", "--data", dir]);
      for (const pid of pids.filter(running)) process.kill(pid, "SIGKILL");
      await rm(dir, { recursive: true, force: true });
    });
    const upRun = await mailyard([
      "cluster",
      "up",
      "--frontends",
      "1",
      "--backends",
      "2",
      "--dynamic",
      "--data",
      dir,
    ]);
    assert.equal(upRun.code, 0, upRun.err);
    const up = JSON.parse(upRun.out) as Up & { kind: string };
    pids = [...up.members.map((m) => m.pid), ...(up.balancer !== null ? [up.balancer.pid] : [])];
    assert.equal(up.kind, "dynamic");
    const f1 = up.members.find((m) => m.id === "f1")!;
    const via = ["--set", `dataDir=${f1.dataDir}`, "--set", `http.listen=127.0.0.1:${f1.http}`];
    assert.equal((await mailyard(["domain", "add", "example.test", ...via])).code, 0);
    const added = await mailyard(["account", "add", "dora@example.test", "--password", "pw", ...via]);
    assert.equal(added.out, "account dora@example.test added\n", added.err);
    await send(f1.smtp, "dora@example.test", "dynamic");

    type Status = { owners: { account: string; owner: string }[]; homes: unknown[] };
    let status: Status = { owners: [], homes: [] };
    await waitFor(
      "dora's lease in cluster status",
      async () => {
        const st = await mailyard(["cluster", "status", "--data", dir, "--json"]);
        status = JSON.parse(st.out) as Status;
        return status.owners.length === 1;
      },
      30_000,
    );
    assert.deepEqual(status.homes, []);
    const owner = status.owners[0]!;
    assert.equal(owner.account, "dora@example.test");
    assert.ok(["b1", "b2"].includes(owner.owner));
    // Dynamic: the backends share one Maildir root, DIR/mail.
    const box = join(dir, "mail", "example.test", "dora", "new");
    assert.equal((await readdir(box)).length, 1);
    assert.equal((await mailyard(["cluster", "down", "--data", dir])).code, 0);
    for (const pid of pids) assert.equal(running(pid), false, `pid ${pid} stopped`);
  },
);

test("cluster up: usage errors exit 2", async () => {
  const none = await mailyard(["cluster", "up", "--backends", "1"]);
  assert.equal(none.code, 2);
  assert.match(none.err, /needs --frontends/);
  const zero = await mailyard(["cluster", "up", "--frontends", "1", "--backends", "x"]);
  assert.equal(zero.code, 2);
  assert.match(zero.err, /--backends/);
  const stray = await mailyard(["cluster", "down", "--frontends", "1"]);
  assert.equal(stray.code, 2);
});
