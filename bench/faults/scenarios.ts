// The fault scenarios of issue 16, each against real processes: `mailyard start` members from
// test/cluster/processes-kit.ts (one SQLite state file, or a private PostgreSQL), smtp-sink for
// relayed mail, Maildirs for local mail. Each sends a bounded load, mixed local and relayed (odd
// messages relayed, even ones to four accounts), breaks something once `faultAt` messages are
// acknowledged, repairs it (or not: a lost disk stays lost), and counts what the load got a 250
// for against what arrived (tally.ts). `npm run faults` (run.ts) runs them at full size; the test
// suite runs small ones (test/cluster/fault-suite.test.ts).
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, rmdir, stat, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { splitAccounts } from "../../test/cluster/dynamic-takeover.js";
import { ACCOUNTS, addAccounts } from "../../test/cluster/postgres-kit.js";
import {
  startProcCluster,
  type Member,
  type ProcCluster,
  type ProcClusterOptions,
} from "../../test/cluster/processes-kit.js";
import { mailyard } from "../../test/cli/run-cli.js";
import { startFakeSmtpServer } from "../../test/kit/fake-smtp-server.js";
import {
  FELL_BACK,
  LOCALLY_FOR_OTHERS,
  REMOTELY_BACKEND,
  SUBMITTED_REMOTELY,
} from "../../test/cluster/submit-kit.js";
import { waitFor, type LoadOptions } from "../../test/kit/load.js";
import { startPrivatePostgres } from "../../test/kit/postgres.js";
import { startSink, type Sink } from "../../test/kit/sink.js";
import { Arrivals, inMaildir, Traffic } from "./tally.js";

const run = promisify(execFile);
export type After = { after(fn: () => Promise<void>): void };

export interface Size {
  readonly messages: number;
  readonly sessions: number;
  /** The fault strikes once this many messages (all loads together) are acknowledged. */
  readonly faultAt: number;
  /** How long a stopped backend stays down. */
  readonly downSeconds: number;
  /** queue.takeoverLeaseSeconds where a frontend's spool is taken over. */
  readonly takeoverLeaseSeconds: number;
  /** Bound on the wait for delivery after the fault is over. */
  readonly deliveryTimeoutMs: number;
  readonly bodyBytes: number;
}

export const FULL: Size = {
  messages: 2000,
  sessions: 16,
  faultAt: 500,
  downSeconds: 30,
  takeoverLeaseSeconds: 5,
  deliveryTimeoutMs: 120_000,
  bodyBytes: 1024,
};

export interface Outcome {
  /** Messages the load tried (MAIL sent). */
  readonly sent: number;
  readonly acked: number;
  /** Acknowledged messages that arrived at least once. */
  readonly delivered: number;
  /** Acknowledged, never arrived. */
  readonly lost: readonly string[];
  /** Messages that arrived more than once. */
  readonly duplicated: number;
  /** Arrived without a 250 (the fault cut the reply off after the message was safe). */
  readonly unackedDelivered: number;
  /**
   * From the end of the fault (kill, restart, SIGCONT, space back) until every message
   * acknowledged before it had arrived; null when some never did.
   */
  readonly recoverMs: number | null;
  readonly notes: readonly string[];
  /** What the scenario proves besides 0 lost, when it failed. */
  readonly problems: readonly string[];
}

export interface FaultScenario {
  readonly name: string;
  /** The row's label in docs/RELIABILITY.md. */
  readonly title: string;
  /** How it is done and with which settings (a paragraph in docs/RELIABILITY.md). */
  readonly how: string;
  /** Not runnable yet: why. */
  readonly pending?: string;
  run(t: After, size: Size, say: (line: string) => void): Promise<Outcome>;
}

const to = (i: number, local: readonly string[]): string =>
  i % 2 === 1 ? `r${i}@remote.test` : local[(i >> 1) % local.length]!;

async function sinkFor(t: After): Promise<Sink> {
  const sink = await startSink();
  t.after(() => sink.stop());
  return sink;
}

/** Resolves once `n` acknowledgements (over all loads) have come; onAck feeds it. */
function trigger(n: number): { onAck: () => void; fired: Promise<void> } {
  let count = 0;
  let fire = (): void => undefined;
  const fired = new Promise<void>((resolve) => (fire = resolve));
  return { onAck: () => void (++count === n && fire()), fired };
}

/** Waits for the trigger, or fails when every load ended before it fired. */
async function strike(tr: { fired: Promise<void> }, traffic: Traffic): Promise<void> {
  const early = Symbol("early");
  const r = await Promise.race([tr.fired, traffic.done().then(() => early)]);
  if (r === early) throw new Error("the load ended before the fault was due");
}

interface Settle {
  readonly traffic: Traffic;
  readonly arrivals: Arrivals;
  readonly faultEndMs: number;
  /** Members whose queues must drain before the final count. */
  readonly members: () => readonly Member[];
  readonly size: Size;
  readonly notes?: string[];
  readonly problems?: string[];
}

/** Waits (bounded) until everything acknowledged has arrived and the queues are empty; counts. */
async function settle(s: Settle): Promise<Outcome> {
  const r = await s.traffic.done();
  const notes = s.notes ?? [];
  const problems = s.problems ?? [];
  // Each refusal: "tag: MAIL | RCPT | DATA | end of data" replies; its verdict is the first that
  // is not a 2xx or 354 (a DATA after a refused RCPT gets 554 "no valid recipients" whatever the
  // RCPT's code was). A fault may cost a 4xx (try again later) or a cut connection, never a 5xx
  // (the sender would bounce the message).
  const verdicts = r.why.map((w) => {
    const replies = w.slice(w.indexOf(": ") + 2).split(" | ");
    return { w, code: replies.find((x) => !/^(2\d\d|354)/.test(x)) ?? "(closed)" };
  });
  const fives = verdicts.filter((v) => /^5\d\d/.test(v.code));
  if (fives.length > 0)
    problems.push(`${fives.length} transaction(s) refused with a 5xx, e.g. ${fives[0]!.w}`);
  const fours = verdicts.filter((v) => /^4\d\d/.test(v.code)).length;
  notes.push(
    `not acknowledged: ${fours} with a 4xx, ${verdicts.length - fours - fives.length} cut off, ${fives.length} with a 5xx`,
  );
  const missing = async (): Promise<string[]> => {
    const got = await s.arrivals.scan();
    return r.acked.filter((tag) => !got.has(tag));
  };
  await waitFor(
    "every acknowledged message delivered",
    async () => (await missing()).length === 0,
    s.size.deliveryTimeoutMs,
  ).catch(() => undefined);
  for (const m of s.members()) {
    await waitFor(
      `${m.id}'s queue empty`,
      async () => (await m.health().catch(() => ({ queue: -1 }))).queue === 0,
      30_000,
    ).catch(() => notes.push(`${m.id}'s queue not empty at the end`));
  }
  const got = await s.arrivals.scan();
  const lost = r.acked.filter((tag) => !got.has(tag));
  const acked = new Set(r.acked);
  let recoverMs: number | null = 0;
  for (const tag of r.acked) {
    const at = r.ackedAt.get(tag) ?? 0;
    const arrived = got.get(tag);
    if (arrived === undefined) recoverMs = null;
    else if (at <= s.faultEndMs && recoverMs !== null)
      recoverMs = Math.max(recoverMs, arrived.firstMs - s.faultEndMs);
  }
  return {
    sent: r.acked.length + r.failed.length,
    acked: r.acked.length,
    delivered: r.acked.filter((tag) => got.has(tag)).length,
    lost,
    duplicated: [...got.values()].filter((a) => a.count > 1).length,
    unackedDelivered: [...got.keys()].filter((tag) => !acked.has(tag)).length,
    recoverMs,
    notes,
    problems,
  };
}

const mailOf = (c: ProcCluster, id: string): string => join(c.root, id, "mail");
const arrivalsAt = (sink: Sink, mailRoots: () => readonly string[]): Arrivals =>
  new Arrivals(
    () => [sink.dir, ...mailRoots()],
    (p) => p.startsWith(sink.dir) || inMaildir(p),
  );

/**
 * A static cluster (backends b1, b2 as the accounts' homes; frontends f1, f2 relaying to the
 * sink) under a load split between f1 and f2; resolves when the fault is due. With failover,
 * what f1 cannot try goes to f2.
 */
async function staticUnderLoad(
  t: After,
  size: Size,
  sets: readonly string[],
  o: ProcClusterOptions & { f1Sets?: readonly string[]; failover?: boolean } = {},
) {
  const sink = await sinkFor(t);
  const c = await startProcCluster(t, [`smtp.forwardTo=127.0.0.1:${sink.port}`, ...ERRORS, ...sets], o);
  await addAccounts(c);
  const b1 = await c.start("b1", "backend");
  const b2 = await c.start("b2", "backend");
  const f1 = await c.start("f1", "frontend", o.f1Sets ?? []);
  const f2 = await c.start("f2", "frontend");
  await c.waitLive([f1, f2, b1, b2], ["b1", "b2", "f1", "f2"]);
  const traffic = new Traffic();
  const tr = trigger(size.faultAt);
  const toF2 = () => Promise.resolve(f2.smtp);
  splitLoad(traffic, size, [f1.smtp, f2.smtp], tr.onAck, ACCOUNTS, o.failover === true ? toF2 : undefined);
  await strike(tr, traffic);
  return { c, b1, b2, f1, f2, traffic, arrivals: arrivalsAt(sink, () => [mailOf(c, "b1"), mailOf(c, "b2")]) };
}

/** Load options for messages from..from+n through one port, mixed local and relayed. */
const loadOf = (
  size: Size,
  port: number,
  local: readonly string[],
  more: Partial<LoadOptions> & { firstIndex?: number; messages?: number } = {},
): LoadOptions => ({
  port,
  sessions: size.sessions,
  messages: size.messages,
  from: "sender@remote.test",
  to: (i) => to(i, local),
  bodyBytes: size.bodyBytes,
  timeoutMs: 180_000,
  ...more,
});

/** Half the load through each of two ports (a balancer's two targets). */
function splitLoad(
  traffic: Traffic,
  size: Size,
  ports: readonly [number, number],
  onAck: () => void,
  local: readonly string[],
  failover?: () => Promise<number>,
): void {
  const half = Math.floor(size.messages / 2);
  const sessions = Math.max(1, size.sessions / 2);
  traffic.send(loadOf(size, ports[0], local, { sessions, messages: half, onAck }), failover);
  traffic.send(
    loadOf(size, ports[1], local, { sessions, messages: size.messages - half, firstIndex: half, onAck }),
    failover,
  );
}

// Sessions carry on across 4xx replies (an outage is answered with them).
const ERRORS = ["smtp.maxErrors=100000"];

const frontendDiskLost: FaultScenario = {
  name: "frontend-disk-lost",
  title: "kill -9 of a frontend, its data directory deleted",
  how:
    "Static cluster b1, b2, f1, f2 (queue.shadow=preferred, the default); half the load through f1, half " +
    "through f2. f1's next hop answers 451 to every RCPT, so all it relays waits in its queue (its copies " +
    "on f2), while its local mail goes on to the backends; f2 relays to smtp-sink. f1 is killed with SIGKILL and its data directory deleted; it is never restarted. What f1 " +
    "could not try goes to f2 (a balancer's failover). queue.takeoverLeaseSeconds=5 for the run (default 60), " +
    "retries after 1-2 s. Recovery: from the kill until every message acknowledged before it has arrived.",
  async run(t, size, say) {
    // f1's next hop defers everything, so what f1 relays waits in its queue (copied to f2).
    const defer = await startFakeSmtpServer({
      script: (line) => (line.startsWith("RCPT") ? "451 4.3.0 not now" : undefined),
    });
    t.after(() => defer.close());
    const k = await staticUnderLoad(t, size, [`queue.takeoverLeaseSeconds=${size.takeoverLeaseSeconds}`], {
      f1Sets: [`smtp.forwardTo=127.0.0.1:${defer.port}`],
      failover: true,
    });
    const queued = (await k.f1.health().catch(() => ({ queue: -1 }))).queue;
    await k.f1.kill("SIGKILL");
    const faultEndMs = Date.now();
    await rm(k.f1.dataDir, { recursive: true, force: true });
    say(`f1 killed with ${queued} in its queue, data directory deleted`);
    const notes = [`f1's queue held ${queued} message(s) just before the kill`];
    const out = await settle({
      traffic: k.traffic,
      arrivals: k.arrivals,
      faultEndMs,
      members: () => [k.f2, k.b1, k.b2],
      size,
      notes,
    });
    const taken = k.f2.lines().find((l) => / spool taken over /.test(l) && /node=f1/.test(l));
    if (taken === undefined)
      notes.push(
        ...k.f2
          .lines()
          .filter((l) => /take|spool|shadow/.test(l))
          .slice(-5),
      );
    notes.push(
      taken === undefined
        ? "f2 never logged a take-over of f1's spool"
        : `f2: ${taken.replace(/^.*spool taken over/, "spool taken over")}`,
      `lease ${size.takeoverLeaseSeconds} s + retry ≤ 2 s + heartbeat lapse 2 s`,
    );
    return { ...out, problems: [...out.problems, ...(taken === undefined ? ["no take-over"] : [])] };
  },
};

const frontendRestart: FaultScenario = {
  name: "frontend-restart",
  title: "kill -9 of a frontend, restarted with its disk",
  how:
    "Static cluster b1, b2, f1, f2, half the load through each frontend; f1 is killed with SIGKILL and " +
    "started again at once on the same data directory (within the 60 s take-over lease, so it delivers its " +
    "own queue); what it could not try goes to f2. Recovery: from f1's restart.",
  async run(t, size, say) {
    const k = await staticUnderLoad(t, size, [], { failover: true });
    await k.f1.kill("SIGKILL");
    let f1 = k.f1;
    f1 = await k.c.start("f1", "frontend", [], k.f1.dataDir);
    const faultEndMs = Date.now();
    const resumed = f1.lines().find((l) => / queue manager started /.test(l)) ?? "";
    say(`f1 restarted: ${resumed.replace(/^.*queue manager started/, "")}`);
    return settle({
      traffic: k.traffic,
      arrivals: k.arrivals,
      faultEndMs,
      members: () => [f1, k.f2, k.b1, k.b2],
      size,
      notes: [`f1 resumed${/ messages=(\d+)/.exec(resumed)?.[0] ?? " ?"} from its spool`],
    });
  },
};

const drain: FaultScenario = {
  name: "drain",
  title: "drain of a frontend under load",
  how:
    "Static cluster b1, b2, f1, f2, half the load through each frontend; `mailyard node drain f1` (the CLI, " +
    "on the cluster's state) under load: f1 answers 421 to new sessions, so the rest of its half goes to f2 " +
    "(a balancer's failover), and hands its queue to f2 over remote submit. Target: 0 lost, 0 duplicated. " +
    "Recovery: from the drain command's return (f1's queue empty).",
  async run(t, size, say) {
    const k = await staticUnderLoad(t, size, [], { failover: true });
    const t0 = Date.now();
    const r = await mailyard([
      ...["node", "drain", "f1", "--timeout", "120"],
      ...[
        "--set",
        `state.url=${k.c.stateUrl}`,
        "--set",
        "role=frontend",
        "--set",
        "cluster.downAfterSeconds=2",
      ],
    ]);
    const faultEndMs = Date.now();
    say(`node drain f1: exit ${r.code} after ${faultEndMs - t0} ms`);
    const problems = r.code === 0 ? [] : [`node drain exited ${r.code}: ${r.err.trim()}`];
    const handed = (): number => k.f1.lines().filter((l) => / message handed over /.test(l)).length;
    const out = await settle({
      traffic: k.traffic,
      arrivals: k.arrivals,
      faultEndMs,
      members: () => [k.f1, k.f2, k.b1, k.b2],
      size,
      notes: [`drain took ${faultEndMs - t0} ms`],
      problems,
    });
    if (out.duplicated > 0) problems.push(`${out.duplicated} duplicated (the target is 0)`);
    return { ...out, notes: [...out.notes, `f1 handed ${handed()} message(s) to f2`] };
  },
};

/**
 * A dynamic cluster (b1, b2 on one shared Maildir root; f1, f2 relaying to the sink) under a load
 * split between f1 and f2; resolves when the fault is due.
 */
async function dynamicUnderLoad(
  t: After,
  size: Size,
  sets: readonly string[],
  backendSets: readonly string[] = [],
) {
  const sink = await sinkFor(t);
  const c = await startProcCluster(t, [
    "cluster.kind=dynamic",
    `smtp.forwardTo=127.0.0.1:${sink.port}`,
    ...ERRORS,
    ...sets,
  ]);
  const shared = join(c.root, "shared-mail");
  const accounts = splitAccounts();
  await c.directory.addDomain("example.test");
  for (const a of accounts) await c.directory.addAccount(a, "pw");
  const backends = [
    await c.start("b1", "backend", [`local.mailDir=${shared}`, ...backendSets]),
    await c.start("b2", "backend", [`local.mailDir=${shared}`, ...backendSets]),
  ] as const;
  const f1 = await c.start("f1", "frontend");
  const f2 = await c.start("f2", "frontend");
  await c.waitLive([f1, f2, ...backends], ["b1", "b2", "f1", "f2"]);
  const traffic = new Traffic();
  const tr = trigger(size.faultAt);
  splitLoad(traffic, size, [f1.smtp, f2.smtp], tr.onAck, accounts);
  await strike(tr, traffic);
  return { c, shared, backends, f1, f2, traffic, arrivals: arrivalsAt(sink, () => [shared]) };
}

/** The backend holding the most leases now, and its leases. */
async function owner(c: ProcCluster, backends: readonly [Member, Member]) {
  const leases = await c.state.leases(Date.now());
  const of = (m: Member) => leases.filter((l) => l.owner === m.id);
  const victim = of(backends[0]).length >= of(backends[1]).length ? backends[0] : backends[1];
  const other = victim === backends[0] ? backends[1] : backends[0];
  return { victim, other, held: of(victim) };
}

const dynamicKill: FaultScenario = {
  name: "dynamic-owner-kill",
  title: "kill -9 of a dynamic-cluster owner mid-delivery",
  how:
    "Dynamic cluster (cluster.leaseSeconds=2), backends b1 and b2 on one shared Maildir root, four " +
    "accounts split between them; half the load through each of f1, f2. The backend holding the most " +
    "account leases is killed with SIGKILL and not restarted. Recovery: from the kill.",
  async run(t, size, say) {
    const k = await dynamicUnderLoad(t, size, ["cluster.leaseSeconds=2"]);
    const { victim, other, held } = await owner(k.c, k.backends);
    await victim.kill("SIGKILL");
    const faultEndMs = Date.now();
    say(`${victim.id} killed holding ${held.map((l) => `${l.account}#${l.token}`).join(", ")}`);
    const out = await settle({
      traffic: k.traffic,
      arrivals: k.arrivals,
      faultEndMs,
      members: () => [other, k.f1, k.f2],
      size,
    });
    const now = await k.c.state.leases(Date.now());
    const moved = held.map(
      (l) =>
        `${l.account}: ${victim.id}#${l.token} → ${now.find((x) => x.account === l.account)?.owner ?? "none"}#${now.find((x) => x.account === l.account)?.token ?? "-"}`,
    );
    return { ...out, notes: [...out.notes, `leases ${moved.join("; ")}`] };
  },
};

/** "HH:MM:SS.mmm" of a log line as ms since the epoch (today, UTC; the run is short). */
function logTime(line: string): number | null {
  const m = /^(\d\d):(\d\d):(\d\d)\.(\d{3}) /.exec(line);
  if (m === null) return null;
  const now = Date.now();
  const day = now - (now % 86_400_000);
  const at = day + ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
  return at > now + 60_000 ? at - 86_400_000 : at;
}

/** Every "lease acquired" a backend logged: account, token, when. */
const acquisitions = (m: Member): { account: string; token: number; at: number }[] =>
  m.lines().flatMap((l) => {
    const x = / lease acquired account=(\S+) token=(\d+)/.exec(l);
    const at = logTime(l);
    return x === null || at === null ? [] : [{ account: x[1]!, token: Number(x[2]), at }];
  });

const dynamicStop: FaultScenario = {
  name: "dynamic-owner-stop",
  title: "SIGSTOP/SIGCONT of a dynamic-cluster owner mid-delivery",
  how:
    "As above (cluster.leaseSeconds=3, cluster.downAfterSeconds=4, backends at log.level=4 so they log " +
    "each lease with its token), but the owner is stopped with SIGSTOP, kept stopped until the other " +
    "backend has taken every lease it held (or 60 s), then let go with SIGCONT. Proof that the old owner " +
    "stored nothing after the take-over: every Maildir file it wrote (P<pid> in the name) has a ctime (the " +
    'rename into new/) before the other backend\'s "lease acquired" with the greater token for that account ' +
    "(or after the old owner's own later lease with a token greater still). Recovery: from SIGCONT.",
  async run(t, size, say) {
    const k = await dynamicUnderLoad(
      t,
      size,
      ["cluster.leaseSeconds=3", "cluster.downAfterSeconds=4"],
      ["log.level=4"],
    );
    const { victim, other, held } = await owner(k.c, k.backends);
    victim.child.kill("SIGSTOP");
    t.after(() => Promise.resolve(void victim.child.kill("SIGCONT")));
    const stoppedAt = Date.now();
    say(`${victim.id} stopped holding ${held.map((l) => `${l.account}#${l.token}`).join(", ")}`);
    const takenOver = (): Map<string, { token: number; at: number }> => {
      const out = new Map<string, { token: number; at: number }>();
      for (const a of acquisitions(other)) {
        const before = held.find((l) => l.account === a.account);
        if (before !== undefined && a.token > before.token && !out.has(a.account)) out.set(a.account, a);
      }
      return out;
    };
    await waitFor("the other backend took every lease", () => takenOver().size === held.length, 60_000).catch(
      () => undefined,
    );
    victim.child.kill("SIGCONT");
    const faultEndMs = Date.now();
    say(`${victim.id} continued after ${((faultEndMs - stoppedAt) / 1000).toFixed(1)} s`);
    const problems: string[] = [];
    const notes: string[] = [`stopped ${((faultEndMs - stoppedAt) / 1000).toFixed(1)} s`];
    const out = await settle({
      traffic: k.traffic,
      arrivals: k.arrivals,
      faultEndMs,
      members: () => [victim, other, k.f1, k.f2],
      size,
      notes,
      problems,
    });
    const taken = takenOver();
    if (taken.size < held.length)
      problems.push(`only ${taken.size} of ${held.length} leases were taken over`);
    const own = acquisitions(victim);
    let before = 0;
    let laterLease = 0;
    for (const l of held) {
      const tk = taken.get(l.account);
      if (tk === undefined) continue;
      const [local = "", domain = ""] = l.account.split("@");
      const dir = join(k.shared, domain, local, "new");
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!name.includes(`P${victim.pid}Q`)) continue;
        const ctime = (await stat(join(dir, name))).ctimeMs;
        if (ctime < tk.at) before++;
        else if (own.some((a) => a.account === l.account && a.token > tk.token && a.at <= ctime))
          laterLease++;
        else
          problems.push(
            `${victim.id} stored ${name} at ${new Date(ctime).toISOString()} after ${other.id} took ${l.account} (token ${tk.token}) at ${new Date(tk.at).toISOString()}`,
          );
      }
      notes.push(
        `${l.account}: ${victim.id}#${l.token} → ${other.id}#${tk.token} at ${new Date(tk.at).toISOString().slice(11, 23)}`,
      );
    }
    notes.push(
      `${victim.id} (pid ${victim.pid}) files in those accounts: ${before} stored before the take-over, ` +
        `${problems.filter((p) => p.includes(" after ")).length} after it, ${laterLease} under a later lease of its own`,
    );
    return out;
  },
};

const backendDown: FaultScenario = {
  name: "backend-down",
  title: "a backend down for 30 s under load",
  how:
    "Static cluster b1, b2, f1, f2, half the load through each frontend; b2 is killed with SIGKILL and " +
    'started again on its data directory after downSeconds (30 s at full size: the issue\'s "minutes", ' +
    "scaled down; frontends retry every 1-2 s). Recovery: from b2's restart.",
  async run(t, size, say) {
    const k = await staticUnderLoad(t, size, []);
    await k.b2.kill("SIGKILL");
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, size.downSeconds * 1000));
    const queued = await Promise.all([k.f1, k.f2].map(async (f) => (await f.health()).queue));
    const b2 = await k.c.start("b2", "backend", [], k.b2.dataDir);
    const faultEndMs = Date.now();
    say(
      `b2 back after ${((faultEndMs - downAt) / 1000).toFixed(1)} s; frontends' queues ${queued.join(", ")}`,
    );
    return settle({
      traffic: k.traffic,
      arrivals: k.arrivals,
      faultEndMs,
      members: () => [k.f1, k.f2, k.b1, b2],
      size,
      notes: [
        `b2 down ${((faultEndMs - downAt) / 1000).toFixed(1)} s; f1, f2 queues before its return: ${queued.join(", ")}`,
      ],
    });
  },
};

const postgresRestart: FaultScenario = {
  name: "postgres-restart",
  title: "PostgreSQL restarted under load",
  how:
    "Static cluster b1, b2, f1, f2 whose state (directory, cluster) is a private PostgreSQL started for the " +
    "run (initdb, pg_ctl on a free port; never the machine's shared server); cluster.cacheSeconds=0 so every " +
    "RCPT asks PostgreSQL; `pg_ctl restart -m fast` under load. Recovery: from the end of the restart.",
  async run(t, size, say) {
    const server = await startPrivatePostgres(t);
    const k = await staticUnderLoad(t, size, ["cluster.cacheSeconds=0", "cluster.negativeCacheSeconds=0"], {
      postgres: server.url,
    });
    const t0 = Date.now();
    await server.restart();
    const faultEndMs = Date.now();
    say(`PostgreSQL restarted in ${faultEndMs - t0} ms`);
    const out = await settle({
      traffic: k.traffic,
      arrivals: k.arrivals,
      faultEndMs,
      members: () => [k.f1, k.f2, k.b1, k.b2],
      size,
      notes: [`pg_ctl restart took ${faultEndMs - t0} ms`],
    });
    const crashed = [k.f1, k.f2, k.b1, k.b2].filter((m) => m.child.exitCode !== null).map((m) => m.id);
    return {
      ...out,
      problems: [...out.problems, ...(crashed.length > 0 ? [`exited: ${crashed.join(", ")}`] : [])],
    };
  },
};

const submitTargetKilled: FaultScenario = {
  name: "submit-target-killed",
  title: "the remote-submit target killed mid-transfer",
  how:
    "Backend b1 with cluster.submitMessages=Remotely takes the whole load on its submission port (AUTH as " +
    "u1); its only Locally for Others frontend f1 is killed with SIGKILL mid-load and started again at once " +
    "on its data directory; b1 falls back to its own queue meanwhile. Recovery: from f1's restart.",
  async run(t, size, say) {
    const sink = await sinkFor(t);
    const c = await startProcCluster(t, ERRORS);
    await c.directory.addDomain("example.test");
    const local = ["u1@example.test", "u2@example.test"];
    for (const a of local) {
      await c.directory.addAccount(a, "pw");
      await c.state.setHome(a, "b1");
    }
    const forward = `smtp.forwardTo=127.0.0.1:${sink.port}`;
    const lfo = LOCALLY_FOR_OTHERS;
    let f1 = await c.start("f1", "frontend", [forward, lfo]);
    const b1 = await c.start("b1", "backend", REMOTELY_BACKEND);
    await c.waitLive([f1, b1], ["b1", "f1"]);
    const traffic = new Traffic();
    const tr = trigger(size.faultAt);
    traffic.send(
      loadOf(size, b1.submission!, local, {
        from: "u1@example.test",
        auth: { user: "u1@example.test", password: "pw" },
        onAck: tr.onAck,
      }),
    );
    await strike(tr, traffic);
    const dataDir = f1.dataDir;
    await f1.kill("SIGKILL");
    f1 = await c.start("f1", "frontend", [forward, lfo], dataDir);
    const faultEndMs = Date.now();
    say("f1 killed and restarted");
    const out = await settle({
      traffic,
      arrivals: arrivalsAt(sink, () => [mailOf(c, "b1")]),
      faultEndMs,
      members: () => [b1, f1],
      size,
    });
    const handed = b1.lines().filter((l) => SUBMITTED_REMOTELY.test(l)).length;
    const fell = b1.lines().filter((l) => FELL_BACK.test(l)).length;
    return {
      ...out,
      notes: [...out.notes, `b1 log: ${handed} submitted remotely, ${fell} fell back to its own queue`],
    };
  },
};

/** One single server (role single) on `dataDir`, with the four accounts, relaying to the sink. */
async function singleServer(t: After, sink: Sink, dataDir?: string) {
  const c = await startProcCluster(t, [`smtp.forwardTo=127.0.0.1:${sink.port}`, ...ERRORS]);
  await addAccounts(c);
  const s = await c.start("s1", "single", [], dataDir);
  return { c, s };
}

const singleKill: FaultScenario = {
  name: "single-kill",
  title: "a single server killed with kill -9",
  how:
    "One `mailyard start` (role single) takes the load; it is killed with SIGKILL and started again at once " +
    "on its data directory, and what the load could not try then goes to the restarted server. Recovery: " +
    "from the restart.",
  async run(t, size, say) {
    const sink = await sinkFor(t);
    const { c, s } = await singleServer(t, sink);
    let server = s;
    let restarted = (): void => undefined;
    const back = new Promise<void>((resolve) => (restarted = resolve));
    const traffic = new Traffic();
    const tr = trigger(size.faultAt);
    traffic.send(loadOf(size, s.smtp, ACCOUNTS, { onAck: tr.onAck }), async () => {
      await back;
      return server.smtp;
    });
    await strike(tr, traffic);
    await s.kill("SIGKILL");
    server = await c.start("s1", "single", [], s.dataDir);
    restarted();
    const faultEndMs = Date.now();
    say("s1 killed and restarted");
    return settle({
      traffic,
      arrivals: arrivalsAt(sink, () => [join(s.dataDir, "mail")]),
      faultEndMs,
      members: () => [server],
      size,
    });
  },
};

/** A tmpfs of `bytes` mounted on a new directory; unmounted and removed after. */
async function smallDisk(
  t: After,
  bytes: number,
): Promise<{ dir: string; grow(bytes: number): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "mailyard-full-"));
  try {
    await run("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir]);
  } catch (e) {
    await rmdir(dir);
    throw new Error(`cannot mount a tmpfs (needs root): ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
    });
  }
  t.after(async () => {
    await run("umount", [dir]).catch(() => run("umount", ["-l", dir]));
    await rmdir(dir).catch(() => undefined);
  });
  return { dir, grow: async (n) => void (await run("mount", ["-o", `remount,size=${n}`, dir])) };
}

/** Files under dir (recursively) whose path below dir matches. */
async function filesUnder(dir: string, re: RegExp): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    const p = join(e.parentPath, e.name);
    if (e.isFile() && re.test(p.slice(dir.length))) out.push(p);
  }
  return out;
}

export const diskFull: FaultScenario = {
  name: "disk-full",
  title: "the data directory's disk full under load",
  how:
    "One single server whose data directory (spool and Maildirs; the SQLite state file is elsewhere) is a " +
    "tmpfs of max(192 KB, 1 KB per message) mounted for the run; local mail fills it. Once it is full " +
    "(< 32 KB free) it stays full for 3 s, then is grown to 256 MB (mount -o remount). Every reply must be a " +
    "250 or a 4xx (no 5xx), every acknowledged message delivered, no Maildir file short of its body, nothing " +
    "moved to the spool's corrupt/ or logged as quarantined. Recovery: from the remount.",
  async run(t, size, say) {
    const disk = await smallDisk(t, Math.max(192 * 1024, size.messages * 1024));
    const sink = await sinkFor(t);
    const { s } = await singleServer(t, sink, disk.dir);
    const traffic = new Traffic();
    let acks = 0;
    traffic.send(loadOf(size, s.smtp, ACCOUNTS, { onAck: () => void acks++ }));
    let finished = false;
    void traffic.done().then(() => (finished = true));
    const free = async (): Promise<number> => {
      const st = await statfs(disk.dir);
      return st.bavail * st.bsize;
    };
    await waitFor("the disk full", async () => finished || (await free()) < 32 * 1024, 180_000);
    const problems: string[] = [];
    if (finished) problems.push("the disk never filled");
    const fullAt = Date.now();
    say(`disk full after ${acks} acks`);
    await new Promise((r) => setTimeout(r, 3000));
    await disk.grow(256 * 1024 * 1024);
    const faultEndMs = Date.now();
    say(`space back after ${faultEndMs - fullAt} ms full`);
    const out = await settle({
      traffic,
      arrivals: arrivalsAt(sink, () => [join(disk.dir, "mail")]),
      faultEndMs,
      members: () => [s],
      size,
      problems,
    });
    const filler = "x".repeat(76) + "\r\n";
    const body = filler.repeat(Math.max(1, Math.ceil(size.bodyBytes / filler.length)));
    let short = 0;
    for (const f of await filesUnder(join(disk.dir, "mail"), /[/\\](new|cur)[/\\]/)) {
      if (!(await readFile(f, "latin1")).endsWith(`\r\n\r\n${body}`)) short++;
    }
    if (short > 0) problems.push(`${short} Maildir file(s) short of their body`);
    const leftovers = (await filesUnder(join(disk.dir, "mail"), /[/\\]tmp[/\\]/)).length;
    const corrupt = (await filesUnder(disk.dir, /[/\\]corrupt[/\\]/)).length;
    const quarantined = s.lines().filter((l) => /quarantined|moved aside/.test(l)).length;
    if (corrupt + quarantined > 0)
      problems.push(`${corrupt} file(s) in corrupt/, ${quarantined} quarantine line(s)`);
    return {
      ...out,
      notes: [...out.notes, `full for ${faultEndMs - fullAt} ms`, `Maildir tmp/ leftovers: ${leftovers}`],
    };
  },
};

/** Every scenario, in the order of the issue; the table's rows. */
export const SCENARIOS: readonly FaultScenario[] = [
  frontendDiskLost,
  frontendRestart,
  drain,
  dynamicKill,
  dynamicStop,
  backendDown,
  postgresRestart,
  submitTargetKilled,
  singleKill,
  diskFull,
];
