// The cost of shadow copies (issue 16), as `npm run bench` scenarios: a real cluster per run
// (frontends f1 and f2, backend b1: `mailyard start` processes from
// test/cluster/processes-kit.ts on one SQLite state file) takes the workload on f1, relayed to
// the benchmark's sink or delivered into b1's Maildirs, with queue.shadow=off and
// queue.shadow=preferred (f1's 250 waits for f2's fsync of the copy) alternating in the same
// rounds. Reported: acknowledged messages per second, end-of-data → 250 latency (p50, p95), the
// three members' CPU per message, and the load average of the machine at each run. No Postfix
// counterpart: a single Postfix keeps no second copy.
import { loadavg } from "node:os";
import { startProcCluster } from "../test/cluster/processes-kit.js";
import { onCleanup, throwIfAborted } from "./cleanup.js";
import { remoteLoad } from "./load-remote.js";
import { maildirs } from "./measure.js";
import { treeCpu } from "./procstat.js";
import type { Sink } from "./sink.js";
import { LOCAL_DOMAIN, type Workload } from "./workload.js";

export const SHADOW_NAMES = ["cluster-relay-shadow", "cluster-local-shadow"] as const;
export type ShadowMode = "off" | "preferred";

export interface ShadowScenario {
  readonly name: string;
  readonly title: string;
  readonly workload: Workload;
}

/** Accounts u0..u(N-1) on b1 for the local scenario (fewer than the single-node benchmark's: each is made per run). */
const CLUSTER_MAILBOXES = 20;

export function shadowScenario(name: string, quick: boolean): ShadowScenario | null {
  const messages = quick ? 300 : 2000;
  const w = { messages, sessions: 20, messageBytes: 2048, recipients: 1, mailboxes: CLUSTER_MAILBOXES };
  const title = (what: string): string =>
    `cluster ${what}, queue.shadow off and preferred: ${messages} messages × 2 KB, 20 sessions into f1 (peer f2, backend b1)`;
  switch (name) {
    case "cluster-relay-shadow":
      return { name, title: title("relay to the sink"), workload: { ...w, kind: "relay" } };
    case "cluster-local-shadow":
      return {
        name,
        title: title(`local delivery into ${CLUSTER_MAILBOXES} Maildirs on b1`),
        workload: { ...w, kind: "local" },
      };
    default:
      return null;
  }
}

export interface ShadowRun {
  readonly mode: ShadowMode;
  readonly round: number;
  readonly ok: boolean;
  readonly error: string | null;
  readonly acked?: number;
  readonly acceptedPerSec?: number;
  readonly p50Ms?: number;
  readonly p95Ms?: number;
  /** CPU milliseconds of f1, f2 and b1 together per acknowledged message. */
  readonly cpuMsPerMsg?: number;
  /** 1-minute load average at the end of the run. */
  readonly load1: number;
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

export async function shadowRun(
  s: ShadowScenario,
  mode: ShadowMode,
  round: number,
  ctx: { readonly sink: Sink; readonly loadTimeoutMs: number; readonly deliveryTimeoutMs: number },
): Promise<ShadowRun> {
  const afters: (() => Promise<void>)[] = [];
  // In the order registered, as node:test does (the kit relies on it); also on SIGINT.
  const cleanup = onCleanup(`cluster (${s.name}, ${mode})`, async () => {
    for (const fn of afters.splice(0)) await fn().catch(() => undefined);
  });
  try {
    throwIfAborted();
    const c = await startProcCluster({ after: (fn) => afters.push(fn) }, [
      `smtp.forwardTo=127.0.0.1:${ctx.sink.port}`,
      `queue.shadow=${mode}`,
      "log.level=2",
    ]);
    const w = s.workload;
    if (w.kind === "local") {
      await c.directory.addDomain(LOCAL_DOMAIN);
      for (let i = 0; i < w.mailboxes; i++) {
        await c.directory.addAccount(`u${i}@${LOCAL_DOMAIN}`, "bench");
        await c.state.setHome(`u${i}@${LOCAL_DOMAIN}`, "b1");
      }
    }
    const b1 = await c.start("b1", "backend");
    const f1 = await c.start("f1", "frontend");
    const f2 = await c.start("f2", "frontend");
    await c.waitLive([f1, f2, b1], ["b1", "f1", "f2"]);
    const cpu = (): number => [f1, f2, b1].reduce((sum, m) => sum + treeCpu(m.pid), 0);
    await ctx.sink.reset();
    const cpu0 = cpu();
    const load = await remoteLoad(f1.smtp, w, ctx.loadTimeoutMs);
    const r = load.result;
    const deadline = Date.now() + ctx.deliveryTimeoutMs;
    const delivered = async (): Promise<number> =>
      w.kind === "local"
        ? (await maildirs(`${b1.dataDir}/mail`, false)).count
        : (await ctx.sink.stats()).recipients;
    let got = await delivered();
    while (got < r.acked && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      got = await delivered();
    }
    const cpuSeconds = cpu() - cpu0;
    const latencies = [...r.latenciesMs].sort((a, b) => a - b);
    const errors: string[] = [];
    if (r.failed > 0) errors.push(`${r.failed} not accepted (first: ${r.firstError ?? "?"})`);
    if (got < r.acked) errors.push(`${got} of ${r.acked} arrived`);
    return {
      mode,
      round,
      ok: errors.length === 0,
      error: errors.length > 0 ? errors.join("; ") : null,
      acked: r.acked,
      acceptedPerSec: r.acked / ((r.lastAckMs - r.startMs) / 1000),
      p50Ms: percentile(latencies, 0.5),
      p95Ms: percentile(latencies, 0.95),
      cpuMsPerMsg: (cpuSeconds / Math.max(1, r.acked)) * 1000,
      load1: loadavg()[0]!,
    };
  } catch (e) {
    return {
      mode,
      round,
      ok: false,
      error: e instanceof Error ? e.message : String(e),
      load1: loadavg()[0]!,
    };
  } finally {
    await cleanup();
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : "–");

/** A Markdown table of medians, each round's figures, and the issue's targets. */
export function formatShadowTable(s: ShadowScenario, runs: readonly ShadowRun[]): string {
  const of = (mode: ShadowMode) => runs.filter((r) => r.mode === mode && r.ok);
  const col = (mode: ShadowMode, pick: (r: ShadowRun) => number | undefined): number[] =>
    of(mode).map((r) => pick(r) ?? NaN);
  const row = (label: string, pick: (r: ShadowRun) => number | undefined, digits: number, ratio: boolean) => {
    const off = median(col("off", pick));
    const on = median(col("preferred", pick));
    const rel = ratio ? `${fmt(on / off, 2)}×` : `${on - off >= 0 ? "+" : ""}${fmt(on - off, 2)}`;
    const rounds = (m: ShadowMode) =>
      col(m, pick)
        .map((x) => fmt(x, digits))
        .join(", ");
    return `| ${label} | ${fmt(off, digits)} | ${fmt(on, digits)} | ${rel} | ${rounds("off")} / ${rounds("preferred")} |`;
  };
  const offRate = median(col("off", (r) => r.acceptedPerSec));
  const onRate = median(col("preferred", (r) => r.acceptedPerSec));
  const p50 = median(col("preferred", (r) => r.p50Ms)) - median(col("off", (r) => r.p50Ms));
  const failed = runs.filter((r) => !r.ok);
  return [
    `### ${s.name}: ${s.title}`,
    "",
    "| median | off | preferred | preferred vs off | each round (off / preferred) |",
    "| --- | ---: | ---: | ---: | --- |",
    row("acknowledged msg/s", (r) => r.acceptedPerSec, 0, true),
    row("ack latency p50 ms (end of data → 250)", (r) => r.p50Ms, 1, false),
    row("ack latency p95 ms", (r) => r.p95Ms, 1, false),
    row("CPU ms per message (f1 + f2 + b1)", (r) => r.cpuMsPerMsg, 2, true),
    row("load average (1 min) at the end of the run", (r) => r.load1, 1, false),
    "",
    `Throughput cost of shadows: ${fmt((1 - onRate / offRate) * 100, 0)} % (target ≤ 25 %); p50 latency added: ${fmt(p50, 2)} ms (target ≤ 2 ms).` +
      (failed.length > 0
        ? ` Failed runs (left out): ${failed.map((r) => `${r.mode} round ${r.round}: ${r.error ?? "?"}`).join("; ")}.`
        : ""),
  ].join("\n");
}
