// The real multi-process cluster the cluster issue asks for: two frontends and two backends as
// `mailyard start` child processes sharing one state file, talked to by swaks and Postfix's
// smtp-sink. Mail sent to each frontend for accounts on each backend lands in that backend's
// Maildir; an unknown recipient is refused at RCPT; AUTH on a frontend is checked by a backend
// (right password 235, wrong one 535); relay to smtp-sink works from the frontends (forwardTo)
// and from a backend through "*" (via a live frontend). Everything on 127.0.0.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { waitFor } from "../kit/load.js";
import { startSink } from "../kit/sink.js";
import { maildir, startProcCluster, type Member } from "./processes-kit.js";

const run = promisify(execFile);

/** swaks against a port; resolves with its exit code and transcript (it exits non-zero on a refusal). */
async function swaks(port: number, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(
      "swaks",
      ["--server", `127.0.0.1:${port}`, "--timeout", "20", "--from", "sender@remote.test", ...args],
      { timeout: 30_000 },
    );
    return { code: 0, out: stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string };
    return { code: typeof err.code === "number" ? err.code : -1, out: err.stdout ?? "" };
  }
}

const subjects = (texts: readonly string[]): string[] =>
  texts.flatMap((t) => [...t.matchAll(/^Subject: (\S+)\r?$/gm)].map((m) => m[1]!));

test("2 frontends + 2 backends as processes: homes, unknown users, AUTH, relay from frontends and through *", async (t) => {
  const sink = await startSink();
  t.after(() => sink.stop());
  const c = await startProcCluster(t);
  await c.directory.addDomain("example.test");
  await c.directory.addAccount("alice@example.test", "alice-pw");
  await c.directory.addAccount("bob@example.test", "bob-pw");
  await c.state.setHome("alice@example.test", "b1");
  await c.state.setHome("bob@example.test", "b2");
  const b1 = await c.start("b1", "backend", ["smtp.forwardTo=*"]);
  const b2 = await c.start("b2", "backend", ["smtp.forwardTo=*"]);
  const toSink = [`smtp.forwardTo=127.0.0.1:${sink.port}`];
  const f1 = await c.start("f1", "frontend", toSink);
  const f2 = await c.start("f2", "frontend", toSink);
  const all: Member[] = [b1, b2, f1, f2];
  await c.waitLive(all, ["b1", "b2", "f1", "f2"]);

  // Each frontend, each backend's account.
  for (const f of [f1, f2]) {
    for (const to of ["alice@example.test", "bob@example.test"]) {
      const r = await swaks(f.smtp, ["--to", to, "--header", `Subject: via-${f.id}-to-${to.split("@")[0]}`]);
      assert.equal(r.code, 0, r.out);
    }
  }
  const box = async (m: Member, who: string): Promise<string[]> =>
    subjects((await maildir(join(m.dataDir, "mail"), `${who}@example.test`)).map((x) => x.text));
  await waitFor("local mail on its home backend", async () => (await box(b1, "alice")).length === 2, 20_000);
  await waitFor("local mail on its home backend", async () => (await box(b2, "bob")).length === 2, 20_000);
  assert.deepEqual((await box(b1, "alice")).sort(), ["via-f1-to-alice", "via-f2-to-alice"]);
  assert.deepEqual((await box(b2, "bob")).sort(), ["via-f1-to-bob", "via-f2-to-bob"]);
  assert.deepEqual(await box(b1, "bob"), [], "bob's mail is only on b2");
  assert.deepEqual(await box(b2, "alice"), [], "alice's mail is only on b1");

  // An unknown local user is refused at RCPT, and nothing is queued.
  const unknown = await swaks(f2.smtp, ["--to", "nobody@example.test"]);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.out, /RCPT TO:<nobody@example\.test>\s*\n<\*\* +550 5\.1\.1 /);
  assert.equal((await f2.health()).queue, 0);

  // AUTH on a frontend, answered by a backend over the cluster API; then relayed to the sink.
  const auth = (password: string): Promise<{ code: number; out: string }> =>
    swaks(f1.smtp, [
      "--tls",
      "--auth",
      "PLAIN",
      "--auth-user",
      "alice@example.test",
      "--auth-password",
      password,
      "--from",
      "alice@example.test",
      "--to",
      "friend@remote.test",
      "--header",
      "Subject: auth-relay",
    ]);
  const wrong = await auth("not-her-password");
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.out, /<~?\*+ +535 5\.7\.8 /);
  const right = await auth("alice-pw");
  assert.equal(right.code, 0, right.out);
  assert.match(right.out, /<~ +235 /);

  // Relay from the other frontend too, and from a backend through "*" (it hands the message to
  // a live frontend, which forwards it to the sink).
  assert.equal((await swaks(f2.smtp, ["--to", "x@remote.test", "--header", "Subject: from-f2"])).code, 0);
  assert.equal((await swaks(b1.smtp, ["--to", "y@remote.test", "--header", "Subject: from-b1"])).code, 0);
  await waitFor("relayed mail at the sink", async () => (await sink.count()) >= 3, 20_000);
  const atSink = await sink.messages();
  assert.deepEqual(subjects(atSink).sort(), ["auth-relay", "from-b1", "from-f2"]);
  // The backend's message passed a frontend: two Mailyard Received: lines, the newer one by a
  // frontend that took it from the backend.
  const fromB1 = atSink.find((m) => /Subject: from-b1/.test(m)) ?? "";
  assert.equal([...fromB1.matchAll(/^Received: .*\r?\n\s+by \S+ \(Mailyard\)/gm)].length, 2, fromB1);
});
