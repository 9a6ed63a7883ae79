// A node that cannot start accepts nothing (issue 16 item 7): with a later listener's port taken
// (POP3, HTTP), `mailyard start` exits non-zero with a clear message, and its SMTP port was never
// accepting, not even for a moment: the listeners that take mail open last. Probed from outside
// the whole time the process lives, and once more after it is gone; for a single server and for
// both cluster roles.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../kit/ports.js";

const bin = join(fileURLToPath(new URL("../../../", import.meta.url)), "bin", "mailyard.js");

type After = { after(fn: () => Promise<void> | void): void };

/** A test-owned server holding a port, so the node finds it taken. */
async function occupied(t: After): Promise<number> {
  const s = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => s.close(() => r())));
  return (s.address() as net.AddressInfo).port;
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port });
    c.once("connect", () => (c.destroy(), resolve(true)));
    c.once("error", () => resolve(false));
  });

/** Starts the node; probes its SMTP port until it exits (bounded); its exit code, output, and whether SMTP ever accepted. */
async function startAndProbe(
  t: After,
  sets: readonly string[],
  smtp: number,
): Promise<{ code: number | null; out: string; err: string; accepted: number; probes: number }> {
  const child = spawn(process.execPath, [bin, "start", ...sets.flatMap((s) => ["--set", s])], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  let gone = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      gone = true;
      resolve(code);
    }),
  );
  t.after(async () => {
    if (!gone) child.kill("SIGKILL");
    await exited;
  });
  let accepted = 0;
  let probes = 0;
  const deadline = Date.now() + 60_000;
  while (!gone && Date.now() < deadline && probes < 100_000) {
    probes++;
    if (await accepts(smtp)) accepted++;
  }
  const code = await Promise.race([
    exited,
    new Promise<"hung">((r) => setTimeout(() => r("hung"), 30_000).unref()),
  ]);
  assert.notEqual(code, "hung", `the failed start did not exit: ${out}${err}`);
  return { code: code as number | null, out, err, accepted, probes };
}

async function commonSets(t: After, role: string): Promise<{ sets: string[]; smtp: number }> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-startfail-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const smtp = await freePort();
  const sets = [
    `dataDir=${join(dir, "data")}`,
    `smtp.listen=127.0.0.1:${smtp}`,
    "submission.listen=",
    "submissions.listen=",
    `role=${role}`,
    `node.id=${role}-1`,
  ];
  if (role !== "single")
    sets.push(
      `state.url=${join(dir, "state.db")}`,
      "cluster.secret=start-failure-test-secret-00000042",
      "channel.listen=127.0.0.1:0",
    );
  return { sets, smtp };
}

async function assertRefusedStart(t: After, role: string, taken: "pop3" | "http"): Promise<void> {
  const { sets, smtp } = await commonSets(t, role);
  const busy = await occupied(t);
  if (taken === "pop3") sets.push(`pop3.listen=127.0.0.1:${busy}`, "http.listen=127.0.0.1:0");
  else sets.push("pop3.listen=", `http.listen=127.0.0.1:${busy}`);
  const r = await startAndProbe(t, sets, smtp);
  assert.notEqual(r.code, 0, r.out);
  assert.match(r.err, /cannot start: .*(EADDRINUSE|in use)/i, r.err);
  assert.ok(r.probes > 0, "the SMTP port was probed while the node lived");
  assert.equal(r.accepted, 0, `the SMTP port accepted ${r.accepted} of ${r.probes} connections`);
  assert.doesNotMatch(r.out, /listening listener=smtp/, "no SMTP listener was ever bound");
  assert.equal(await accepts(smtp), false, "nothing listens on the SMTP port after the exit");
}

void test("single: the POP3 port taken, start exits non-zero and SMTP never accepted", (t) =>
  assertRefusedStart(t, "single", "pop3"));

void test("single: the HTTP port taken, start exits non-zero and SMTP never accepted", (t) =>
  assertRefusedStart(t, "single", "http"));

void test("frontend: the HTTP port taken, start exits non-zero and SMTP never accepted", (t) =>
  assertRefusedStart(t, "frontend", "http"));

void test("backend: the POP3 port taken, start exits non-zero and SMTP never accepted", (t) =>
  assertRefusedStart(t, "backend", "pop3"));
