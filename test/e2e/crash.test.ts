// Durability under kill -9: a bounded load runs against a real `mailyard start` process, the
// process is killed with SIGKILL midway, restarted on the same data directory, and every
// message that got a 250 must arrive (relayed ones at smtp-sink, local ones in the Maildir).
// Also: Postfix's smtp-source as the sending peer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startSink } from "../kit/sink.js";
import { freePort, waitForPort } from "../kit/ports.js";
import { runLoad, waitFor } from "../kit/load.js";

const run = promisify(execFile);
const bin = join(process.cwd(), "bin", "mailyard.js");

function startMailyard(sets: string[]): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(process.execPath, [bin, "start", ...sets], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, exited: exited.then(() => void (stderr && process.stderr.write(stderr.slice(-2000)))) };
}

async function setup() {
  const dataDir = await mkdtemp(join(tmpdir(), "mailyard-crash-"));
  const sink = await startSink();
  const [smtp, sub, http] = [await freePort(), await freePort(), await freePort()];
  const sets = [
    "--set",
    `dataDir=${dataDir}`,
    "--set",
    `smtp.listen=127.0.0.1:${smtp}`,
    "--set",
    `submission.listen=127.0.0.1:${sub}`,
    "--set",
    "submissions.listen=",
    "--set",
    "pop3.listen=",
    "--set",
    `http.listen=127.0.0.1:${http}`,
    "--set",
    `smtp.forwardTo=127.0.0.1:${sink.port}`,
    "--set",
    "log.stdout=false",
  ];
  await run(process.execPath, [bin, "domain", "add", "example.test", ...sets]);
  await run(process.execPath, [bin, "account", "add", "u@example.test", "--password", "pw", ...sets]);
  const maildir = async (): Promise<string[]> => {
    const dir = join(dataDir, "mail", "example.test", "u", "new");
    const names = await readdir(dir).catch(() => []);
    return Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));
  };
  return { dataDir, sink, smtp, sets, maildir };
}

test("kill -9 during load: every message that got a 250 is delivered after restart", async (t) => {
  const { dataDir, sink, smtp, sets, maildir } = await setup();
  let node = startMailyard(sets);
  t.after(async () => {
    node.child.kill("SIGKILL");
    await node.exited;
    await sink.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  await waitForPort(smtp);

  const killAt = 300;
  const result = await runLoad({
    port: smtp,
    sessions: 20,
    messages: 2000,
    from: "sender@remote.test",
    to: (i) => (i % 2 === 0 ? "u@example.test" : `r${i}@remote.test`),
    bodyBytes: 2048,
    timeoutMs: 60_000,
    onAck: (n) => {
      if (n === killAt) node.child.kill("SIGKILL");
    },
  });
  await node.exited;
  assert.ok(result.acked.length >= killAt, `load got ${result.acked.length} acks before the kill`);
  assert.ok(result.failed.length > 0, "the kill cut some transactions off");

  node = startMailyard(sets);
  await waitForPort(smtp);
  const delivered = async (): Promise<Set<string>> => {
    const texts = [...(await sink.messages()), ...(await maildir())];
    const tags = new Set<string>();
    for (const t of texts) for (const m of t.matchAll(/Subject: (load-\d+)/g)) tags.add(m[1]!);
    return tags;
  };
  await waitFor(
    "every acknowledged message delivered",
    async () => {
      const got = await delivered();
      return result.acked.every((tag) => got.has(tag));
    },
    90_000,
  );
  const got = await delivered();
  const lost = result.acked.filter((tag) => !got.has(tag));
  assert.deepEqual(lost, []);
  // Local mail is stored at receipt: whatever the kill cut off left no partial message in new/
  // (each file is as long as its S= says, and whole); an unfinished one can only be in tmp/.
  const box = join(dataDir, "mail", "example.test", "u");
  for (const name of await readdir(join(box, "new"))) {
    const text = await readFile(join(box, "new", name));
    assert.equal(text.length, Number(/,S=(\d+)/.exec(name)?.[1]), `size of ${name}`);
    assert.match(text.toString("latin1"), /Subject: load-\d+\r\n[\s\S]*\r\n$/);
  }
});

test("Postfix smtp-source sends through Mailyard to smtp-sink: every message arrives", async (t) => {
  const { dataDir, sink, smtp, sets } = await setup();
  const node = startMailyard(sets);
  t.after(async () => {
    node.child.kill("SIGKILL");
    await node.exited;
    await sink.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  await waitForPort(smtp);
  await run(
    "/usr/sbin/smtp-source",
    ["-s", "5", "-m", "200", "-l", "2048", "-f", "a@remote.test", "-t", "b@remote.test", `127.0.0.1:${smtp}`],
    {
      timeout: 60_000,
    },
  );
  await waitFor("200 messages at the sink", async () => (await sink.count()) >= 200, 60_000);
  assert.equal(await sink.count(), 200);
});
