// One run: one scenario against one freshly started MTA. Starts the MTA, drives the load,
// waits (bounded) until every accepted recipient has arrived at the sink or in the Maildirs,
// reads CPU and memory from /proc, stops the MTA. A failure becomes a run marked not ok, with
// the reason, so the other runs still happen.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, stat } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import { Aborted, aborted, throwIfAborted } from "./cleanup.js";
import { remoteIdle, remoteLoad } from "./load-remote.js";
import { WARM_UP_MESSAGES } from "./load.js";
import { postfixMilterCf, type FilterName, type FilterPeer } from "./filters.js";
import { startMailyardCluster, startPostfixCluster } from "./cluster.js";
import { startMailyard } from "./mailyard.js";
import { startPostfix } from "./postfix.js";
import { MemoryPeaks, treeCpu, treeMemory, type Roots } from "./procstat.js";
import { MAILBOXES, type Scenario } from "./scenarios.js";
import type { Mta, MtaName } from "./mta.js";
import type { Sink } from "./sink.js";
import { LOCAL_DOMAIN, type Workload } from "./workload.js";

const run = promisify(execFile);

export interface RunMetrics {
  readonly mta: MtaName;
  readonly round: number;
  /** "unfiltered": the baseline Mailyard run of a filtered scenario (the filter off). */
  readonly variant?: "unfiltered";
  readonly ok: boolean;
  readonly error: string | null;
  /** Message scenarios. */
  readonly acked?: number;
  readonly failed?: number;
  readonly deliveredRecipients?: number;
  readonly acceptedPerSec?: number;
  readonly deliveredPerSec?: number;
  /**
   * Warm-up: accepted msg/s over the first WARM_UP_MESSAGES (from the start) and over the rest
   * (from the WARM_UP_MESSAGES-th 250 to the last); absent when the run had no more than that.
   */
  readonly firstPerSec?: number;
  readonly restPerSec?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly peakRssKb?: number;
  readonly peakPssKb?: number;
  readonly peakProcesses?: number;
  /** CPU seconds of the MTA's processes per 1,000 messages (idle: per 1,000 connections). */
  readonly cpuPer1000?: number;
  readonly cpuSeconds?: number;
  /** Average CPU use of the MTA over the run, in % of one core (200% = both cores of two). */
  readonly cpuPercent?: number;
  /** Idle scenario. */
  readonly connections?: number;
  readonly rssBeforeKb?: number;
  readonly rssIdleKb?: number;
  readonly pssBeforeKb?: number;
  readonly pssIdleKb?: number;
  readonly rssPerConnKb?: number;
  readonly pssPerConnKb?: number;
  /** What the measuring cost: the load generator's, the sink's and the harness's CPU seconds. */
  readonly clientCpuSeconds?: number;
  readonly sinkCpuSeconds?: number;
  readonly harnessCpuSeconds?: number;
  /** The load generator's average CPU use while sending, in % of one core. */
  readonly clientCpuPercent?: number;
  /** Filtered scenarios: CPU seconds of the filter's processes (rspamd, OpenDKIM) in this run. */
  readonly filterCpuSeconds?: number;
  readonly filterCpuPer1000?: number;
  /** Cluster scenarios: CPU seconds of the balancer in front (HAProxy), the same for both. */
  readonly balancerCpuSeconds?: number;
}

export interface RunContext {
  readonly baseDir: string;
  readonly sink: Sink;
  readonly template: string;
  /** bin/mailyard.js of the build snapshot every Mailyard run starts. */
  readonly mailyardBin: string;
  /** Write a V8 CPU profile of every Mailyard run here (--cpu-prof), or null. */
  readonly profileDir: string | null;
  /** Extra `--set KEY=VALUE` for every Mailyard run (after the harness's own). */
  readonly mailyardSets: readonly string[];
  readonly loadTimeoutMs: number;
  readonly deliveryTimeoutMs: number;
  /** The filters the selected scenarios use, started once (bench/filters.ts). */
  readonly filters: ReadonlyMap<FilterName, FilterPeer>;
}

function filterOf(s: Scenario, ctx: RunContext, unfiltered: boolean): FilterPeer | null {
  if (s.kind !== "messages" || s.filter === undefined || unfiltered) return null;
  const f = ctx.filters.get(s.filter);
  if (f === undefined) throw new Error(`the ${s.filter} filter was not started`);
  return f;
}

async function start(s: Scenario, name: MtaName, ctx: RunContext, filter: FilterPeer | null): Promise<Mta> {
  const dir = await mkdtemp(join(ctx.baseDir, `${name}-`));
  const o = { dir, sinkPort: ctx.sink.port, mailboxes: MAILBOXES };
  const cluster = s.kind === "messages" ? s.cluster : undefined;
  if (cluster !== undefined) {
    if (name === "postfix") return startPostfixCluster(cluster, o);
    const common = { template: ctx.template, bin: ctx.mailyardBin, profileDir: ctx.profileDir };
    return startMailyardCluster(cluster, { ...o, ...common, sets: ctx.mailyardSets });
  }
  if (name === "postfix") {
    // Mailyard looks up no client name at connect; Postfix's smtpd does (getnameinfo and a forward
    // check), and for an address on 127/8 other than 127.0.0.1 that is a DNS query to whatever
    // resolver the machine has (here about 1 s each). Same work on both sides: off for mx-2k.
    const mx = s.kind === "messages" && s.workload.mx !== undefined ? "smtpd_peername_lookup = no\n" : "";
    const milter = filter === null ? "" : postfixMilterCf(filter);
    return startPostfix(mx + milter === "" ? o : { ...o, postfixMainCf: mx + milter });
  }
  const milters = filter?.mailyardMilter ?? null;
  return startMailyard({
    ...o,
    template: filter?.template ?? ctx.template,
    bin: ctx.mailyardBin,
    profileDir: ctx.profileDir,
    // The filter before the caller's --set, so a --set can still change how it is spoken to.
    sets: [...(milters === null ? [] : [`smtp.milters=${milters}`]), ...ctx.mailyardSets],
  });
}

const percentile = (sorted: number[], p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

/** Files in every <root>/<domain>/u*\/new, with the newest modification time. */
export async function maildirs(root: string, withTimes: boolean): Promise<{ count: number; lastMs: number }> {
  let count = 0;
  let lastMs = 0;
  const base = join(root, LOCAL_DOMAIN);
  const users = await readdir(base).catch(() => [] as string[]);
  for (const u of users) {
    const dir = join(base, u, "new");
    const files = await readdir(dir).catch(() => [] as string[]);
    count += files.length;
    if (withTimes) {
      for (const f of files) lastMs = Math.max(lastMs, (await stat(join(dir, f))).mtimeMs);
    }
  }
  return { count, lastMs };
}

/** Polls until `expected` recipients have arrived; bounded by the timeout. */
async function awaitDelivery(
  mta: Mta,
  w: Workload,
  ctx: RunContext,
  expected: number,
): Promise<{ delivered: number; lastMs: number; sinkCpu: number }> {
  const deadline = Date.now() + ctx.deliveryTimeoutMs;
  const local = w.kind === "local";
  for (;;) {
    const got = local ? (await maildirs(mta.maildirRoot, false)).count : (await ctx.sink.stats()).recipients;
    if (got >= expected || Date.now() > deadline || aborted.aborted) break;
    // The end time comes from the sink's clock or the files' mtimes, not from this poll, so a
    // slow poll costs nothing in accuracy and keeps the harness off the CPU.
    await new Promise((r) => setTimeout(r, 250));
  }
  const s = await ctx.sink.stats();
  if (!local) return { delivered: s.recipients, lastMs: s.lastAtMs, sinkCpu: s.cpuSeconds };
  const m = await maildirs(mta.maildirRoot, true);
  return { delivered: m.count, lastMs: m.lastMs, sinkCpu: s.cpuSeconds };
}

export async function runOnce(
  s: Scenario,
  name: MtaName,
  round: number,
  ctx: RunContext,
  o: { unfiltered?: boolean } = {},
): Promise<RunMetrics> {
  let mta: Mta | null = null;
  const variant = o.unfiltered === true ? { variant: "unfiltered" as const } : {};
  try {
    throwIfAborted();
    const filter = filterOf(s, ctx, o.unfiltered === true);
    mta = await start(s, name, ctx, filter);
    throwIfAborted();
    const metrics =
      s.kind === "messages"
        ? await messageRun(mta, s.workload, round, ctx, filter)
        : await idleRun(mta, s.connections, round, ctx);
    throwIfAborted();
    return { ...metrics, ...variant };
  } catch (e) {
    if (aborted.aborted) throw new Aborted();
    return { mta: name, round, ...variant, ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    await mta?.stop();
    // Write back what this run left dirty (and let the deletion of its spool settle) before the
    // next run starts, so one MTA's I/O is not billed to the other.
    await run("sync", []).catch(() => undefined);
  }
}

async function messageRun(
  mta: Mta,
  w: Workload,
  round: number,
  ctx: RunContext,
  filter: FilterPeer | null,
): Promise<RunMetrics> {
  await ctx.sink.reset();
  const harness0 = process.cpuUsage();
  const cpu0 = treeCpu(mta.pid);
  // The filter's CPU is the MTA's cost only where the MTA talks to it (Mailyard signs in-process).
  const filterPid =
    filter === null || (mta.name === "mailyard" && filter.mailyardMilter === null) ? null : filter.pid;
  const filter0 = filterPid === null ? 0 : treeCpu(filterPid);
  const balancer = "balancerPid" in mta && typeof mta.balancerPid === "number" ? mta.balancerPid : null;
  const balancer0 = balancer === null ? 0 : treeCpu(balancer);
  const peaks = new MemoryPeaks(mta.pid);
  peaks.start();
  let load: Awaited<ReturnType<typeof remoteLoad>>;
  let arrived: Awaited<ReturnType<typeof awaitDelivery>>;
  try {
    load = await remoteLoad(mta.smtpPort, w, ctx.loadTimeoutMs);
    arrived = await awaitDelivery(mta, w, ctx, load.result.acked * w.recipients);
  } finally {
    peaks.stop();
  }
  const cpu = treeCpu(mta.pid) - cpu0;
  const filterCpu = filterPid === null ? null : treeCpu(filterPid) - filter0;
  const balancerCpu = balancer === null ? null : treeCpu(balancer) - balancer0;
  const h = process.cpuUsage(harness0);
  const r = load.result;
  const expected = r.acked * w.recipients;
  const errors: string[] = [];
  if (r.failed > 0) errors.push(`${r.failed} messages not accepted (first: ${r.firstError ?? "?"})`);
  if (arrived.delivered !== expected) errors.push(`${arrived.delivered} of ${expected} recipients arrived`);
  const latencies = [...r.latenciesMs].sort((a, b) => a - b);
  const acceptSeconds = (r.lastAckMs - r.startMs) / 1000;
  const deliverSeconds = (arrived.lastMs - r.startMs) / 1000;
  const warm =
    r.acked > WARM_UP_MESSAGES && r.warmUpAckMs > 0 && r.lastAckMs > r.warmUpAckMs
      ? {
          firstPerSec: WARM_UP_MESSAGES / ((r.warmUpAckMs - r.startMs) / 1000),
          restPerSec: (r.acked - WARM_UP_MESSAGES) / ((r.lastAckMs - r.warmUpAckMs) / 1000),
        }
      : {};
  return {
    mta: mta.name,
    round,
    ok: errors.length === 0,
    error: errors.length ? errors.join("; ") : null,
    acked: r.acked,
    failed: r.failed,
    deliveredRecipients: arrived.delivered,
    acceptedPerSec: r.acked / acceptSeconds,
    deliveredPerSec: arrived.delivered / w.recipients / deliverSeconds,
    ...warm,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    peakRssKb: peaks.peakRssKb,
    peakPssKb: peaks.peakPssKb,
    peakProcesses: peaks.peakProcesses,
    cpuSeconds: cpu,
    cpuPer1000: (cpu / Math.max(1, r.acked)) * 1000,
    cpuPercent: (cpu / deliverSeconds) * 100,
    clientCpuSeconds: load.cpuSeconds,
    clientCpuPercent: (load.cpuSeconds / acceptSeconds) * 100,
    sinkCpuSeconds: arrived.sinkCpu,
    harnessCpuSeconds: (h.user + h.system) / 1e6,
    ...(balancerCpu === null ? {} : { balancerCpuSeconds: balancerCpu }),
    ...(filterCpu === null
      ? {}
      : { filterCpuSeconds: filterCpu, filterCpuPer1000: (filterCpu / Math.max(1, r.acked)) * 1000 }),
  };
}

/** Median of a few memory readings a short while apart (GC and page reclaim make single ones noisy). */
async function settledMemory(pid: Roots): Promise<{ rssKb: number; pssKb: number }> {
  const rss: number[] = [];
  const pss: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 200));
    const m = treeMemory(pid, true);
    rss.push(m.rssKb);
    pss.push(m.pssKb);
  }
  const mid = (a: number[]): number => a.sort((x, y) => x - y)[a.length >> 1]!;
  return { rssKb: mid(rss), pssKb: mid(pss) };
}

async function idleRun(mta: Mta, connections: number, round: number, ctx: RunContext): Promise<RunMetrics> {
  const before = await settledMemory(mta.pid);
  const cpu0 = treeCpu(mta.pid);
  const hold = await remoteIdle(mta.smtpPort, connections, ctx.loadTimeoutMs);
  let idle: { rssKb: number; pssKb: number };
  let cpu: number;
  let clientCpu: number;
  try {
    cpu = treeCpu(mta.pid) - cpu0;
    idle = await settledMemory(mta.pid);
  } finally {
    clientCpu = await hold.close();
  }
  const n = Math.max(1, hold.opened);
  return {
    mta: mta.name,
    round,
    ok: hold.failed === 0,
    error: hold.failed ? `${hold.failed} of ${connections} connections failed` : null,
    connections: hold.opened,
    rssBeforeKb: before.rssKb,
    rssIdleKb: idle.rssKb,
    pssBeforeKb: before.pssKb,
    pssIdleKb: idle.pssKb,
    rssPerConnKb: (idle.rssKb - before.rssKb) / n,
    pssPerConnKb: (idle.pssKb - before.pssKb) / n,
    peakRssKb: idle.rssKb,
    peakPssKb: idle.pssKb,
    cpuSeconds: cpu,
    cpuPer1000: (cpu / n) * 1000,
    clientCpuSeconds: clientCpu,
  };
}
