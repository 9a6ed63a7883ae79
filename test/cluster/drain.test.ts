// `mailyard node drain` with real processes (issue 16 item 3): two frontends and a backend on one
// SQLite state, relayed mail queued on f1 while its relay host (smtp-sink) is down; the drain
// hands every message to f2 over remote submit, f1's queue is empty and its SMTP listener answers
// 421, a restart keeps it drained, the relay host comes up and every message arrives exactly
// once; undrain makes f1 greet and deliver again. And the refusals: an unknown node, a node no
// peer could take the queue of, a single server. And a real HAProxy with the lb-config
// config: its SMTP check takes a drained frontend out and puts it back after the undrain.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLoad, waitFor } from "../kit/load.js";
import { renderHaproxyConfig } from "../../src/cluster/haproxy.js";
import { startHaproxy } from "../kit/haproxy.js";
import { freePort } from "../kit/ports.js";
import { startSink, type Sink } from "../kit/sink.js";
import { mailyard } from "../cli/run-cli.js";
import { startProcCluster, type Member, type ProcCluster } from "./processes-kit.js";

/** The first reply line a new connection gets (the greeting, or a 421), or null when refused. */
const greeting = (port: number): Promise<string | null> =>
  new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port });
    let buf = "";
    const done = (v: string | null): void => {
      c.destroy();
      resolve(v);
    };
    c.setTimeout(10_000, () => done(null));
    c.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const i = buf.indexOf("\r\n");
      if (i >= 0) done(buf.slice(0, i));
    });
    c.once("error", () => done(null));
    c.once("close", () => done(buf === "" ? null : buf));
  });

const tagsOf = async (sink: Sink): Promise<string[]> =>
  (await sink.messages()).flatMap((m) => [...m.matchAll(/^Subject: (load-\d+)\r?$/gm)].map((x) => x[1]!));

function cli(c: ProcCluster, args: string[]) {
  return mailyard([
    ...args,
    "--set",
    `state.url=${c.stateUrl}`,
    "--set",
    "role=frontend",
    "--set",
    "cluster.downAfterSeconds=2",
  ]);
}

const queueOf = async (m: Member): Promise<number> => (await m.health()).queue;

void test("drain hands a frontend's queue to its peer, exactly once; the node refuses mail until undrained", async (t) => {
  const relayPort = await freePort();
  const c = await startProcCluster(t);
  const forward = `smtp.forwardTo=127.0.0.1:${relayPort}`;
  await c.start("b1", "backend");
  const f1 = await c.start("f1", "frontend", [forward]);
  const f2 = await c.start("f2", "frontend", [forward]);
  await c.waitLive([f1, f2], ["b1", "f1", "f2"]);

  // The relay host is down: everything stays in f1's queue, retried every second or two.
  const messages = 120;
  const load = await runLoad({
    port: f1.smtp,
    sessions: 6,
    messages,
    from: "sender@remote.test",
    to: (i) => `r${i}@remote.test`,
    bodyBytes: 512,
    timeoutMs: 60_000,
  });
  // A 4xx under load (the cluster API slow on a busy machine) is the client's to retry: what
  // counts is every acknowledged message.
  const acked = load.acked.length;
  assert.ok(acked >= messages * 0.9, `${acked} acked: ${load.why.slice(0, 3).join(" | ")}`);
  assert.equal(await queueOf(f1), acked);

  const unknown = await cli(c, ["node", "drain", "nosuch"]);
  assert.equal(unknown.code, 2, unknown.err);
  assert.match(unknown.err, /node "nosuch" is not a member of this cluster/);

  const drained = await cli(c, ["node", "drain", "f1", "--timeout", "90"]);
  assert.equal(drained.code, 0, drained.err);
  assert.match(drained.out, /^f1\tfrontend\tup\tdrained\tqueue=0\t\(queue empty\)/m);
  assert.match(drained.err, /f1 draining, \d+ in queue/);
  assert.equal(await queueOf(f1), 0);
  assert.equal(await queueOf(f2), acked, "f2 holds every message f1 had");
  assert.match((await greeting(f1.smtp)) ?? "", /^421 4\.3\.2 /, "f1 refuses new mail");
  assert.match((await greeting(f2.smtp)) ?? "", /^220 /, "f2 still greets");
  const handed = f1.lines().filter((l) => / message handed over /.test(l));
  assert.equal(handed.length, acked);
  assert.ok(handed.every((l) => / to=f2 /.test(l)));

  const status = await cli(c, ["node", "status", "f1", "--json"]);
  assert.equal(status.code, 0, status.err);
  const [row] = JSON.parse(status.out) as { drain: string; queue: number }[];
  assert.equal(row?.drain, "drained");

  // A drained node that restarts stays drained: 421 from its first connection.
  await f1.kill("SIGTERM");
  const again = await c.start("f1", "frontend", [forward], f1.dataDir);
  assert.match((await greeting(again.smtp)) ?? "", /^421 4\.3\.2 /);
  assert.match(again.lines().join("\n"), / queue manager started, paused /);

  // The relay host comes back: f2 delivers every message, and each arrives once.
  const sink = await startSink([], { port: relayPort });
  t.after(() => sink.stop());
  await waitFor("f2's queue empty", async () => (await queueOf(f2)) === 0, 60_000);
  const tags = await tagsOf(sink);
  assert.equal(tags.length, acked, "no message lost or duplicated");
  assert.deepEqual([...new Set(tags)].sort(), [...load.acked].sort());
  assert.equal(await queueOf(again), 0);

  const undrained = await cli(c, ["node", "undrain", "f1"]);
  assert.equal(undrained.code, 0, undrained.err);
  await waitFor("f1 greets again", async () => /^220 /.test((await greeting(again.smtp)) ?? ""), 15_000);
  const more = await runLoad({
    port: again.smtp,
    sessions: 1,
    messages: 3,
    firstIndex: messages,
    from: "sender@remote.test",
    to: (i) => `r${i}@remote.test`,
    bodyBytes: 256,
    timeoutMs: 30_000,
  });
  assert.equal(more.acked.length, 3, more.why.join(" | "));
  await waitFor("f1 delivers again", async () => (await tagsOf(sink)).length === acked + 3, 30_000);
  assert.equal(await queueOf(again), 0);
});

void test("drain is refused with exit 2 for the last live node of its role and for a single server", async (t) => {
  const c = await startProcCluster(t);
  await c.start("b1", "backend");
  const f1 = await c.start("f1", "frontend");
  await c.waitLive([f1], ["b1", "f1"]);
  const alone = await cli(c, ["node", "drain", "f1"]);
  assert.equal(alone.code, 2, alone.err);
  assert.match(alone.err, /no other live frontend that is not draining could take f1's queue/);
  assert.match((await greeting(f1.smtp)) ?? "", /^220 /, "nothing changed");

  const dir = await mkdtemp(join(tmpdir(), "mailyard-drain-single-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const single = await mailyard(["node", "drain", "mx1", "--set", `dataDir=${dir}`]);
  assert.equal(single.code, 2, single.err);
  assert.match(single.err, /a single server has no peers to hand its queue to: drain needs a cluster/);
});

void test("the balancer sees a drained frontend down: HAProxy's SMTP check fails on the 421, passes after undrain", async (t) => {
  const c = await startProcCluster(t, ["smtp.proxyProtocolFrom=127.0.0.2/32"]);
  await c.start("b1", "backend");
  const f1 = await c.start("f1", "frontend");
  const f2 = await c.start("f2", "frontend");
  await c.waitLive([f1, f2], ["b1", "f1", "f2"]);
  const stats = await freePort();
  const lb = await startHaproxy((port) =>
    renderHaproxyConfig({
      listen: `127.0.0.1:${port}`,
      frontends: [f1, f2].map((m) => ({ id: m.id, smtp: `127.0.0.1:${m.smtp}` })),
      proxyVersion: 2,
      source: "127.0.0.2",
      statsListen: `127.0.0.1:${stats}`,
    }),
  );
  t.after(() => lb.stop());
  const status = async (id: string): Promise<string> => {
    const csv = await (await fetch(`http://127.0.0.1:${stats}/;csv`)).text();
    const [head = "", ...rows] = csv.split("\n");
    const col = head.replace(/^# /, "").split(",").indexOf("status");
    return rows.map((r) => r.split(",")).find((r) => r[1] === id)?.[col] ?? "";
  };
  await waitFor(
    "both frontends up in HAProxy",
    async () => (await status("f1")) === "UP" && (await status("f2")) === "UP",
    30_000,
  );

  const asked = await cli(c, ["node", "drain", "f1", "--timeout", "30"]);
  assert.equal(asked.code, 0, asked.err);
  await waitFor("HAProxy marks f1 down", async () => /^DOWN/.test(await status("f1")), 30_000);
  assert.match(await status("f2"), /^UP/);
  // Through the balancer, clients reach f2 only.
  for (let i = 0; i < 3; i++) assert.match((await greeting(lb.port)) ?? "", /^220 f2\.cluster\.test /);

  const back = await cli(c, ["node", "undrain", "f1"]);
  assert.equal(back.code, 0, back.err);
  await waitFor("HAProxy marks f1 up again", async () => (await status("f1")) === "UP", 30_000);
});
