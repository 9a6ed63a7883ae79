// Turns runs into what a reader compares: the machine the numbers came from, and per scenario
// the median over rounds of each metric for Mailyard and Postfix with their ratio, as a text
// table and as JSON. Only runs that completed (ok) count towards a median.
import { execFileSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { RunMetrics } from "./measure.js";
import type { Scenario } from "./scenarios.js";

export interface Machine {
  readonly date: string;
  readonly nproc: number;
  readonly cpu: string;
  readonly memoryGb: number;
  readonly kernel: string;
  readonly node: string;
  readonly postfix: string;
  readonly mailyardCommit: string;
  readonly filesystem: string;
}

const repo = fileURLToPath(new URL("../../", import.meta.url));

const quiet = (cmd: string, args: string[]): string => {
  try {
    return execFileSync(cmd, args, {
      cwd: repo,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unknown";
  }
};

export function machineInfo(baseDir: string): Machine {
  const fs = quiet("df", ["--output=fstype,source", baseDir]).split("\n")[1]?.trim() ?? "unknown";
  // Uncommitted source changes are part of what is measured: say how many files.
  const status = quiet("git", ["status", "--porcelain", "--", "src", "bin"]);
  const changed = status === "unknown" || status === "" ? 0 : status.split("\n").length;
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? "unknown",
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    postfix: quiet("/usr/sbin/postconf", ["-d", "-h", "mail_version"]),
    mailyardCommit:
      quiet("git", ["rev-parse", "--short", "HEAD"]) +
      (changed ? ` + ${changed} uncommitted file${changed > 1 ? "s" : ""} in src/ or bin/` : ""),
    filesystem: `${fs.replace(/\s+/g, " on ")} (${baseDir})`,
  };
}

type Better = "higher" | "lower" | "info";

interface Row {
  readonly label: string;
  readonly better: Better;
  readonly value: (r: RunMetrics) => number | undefined;
}

const MESSAGE_ROWS: Row[] = [
  { label: "accepted msg/s", better: "higher", value: (r) => r.acceptedPerSec },
  { label: "delivered msg/s", better: "higher", value: (r) => r.deliveredPerSec },
  { label: "warm-up: accepted msg/s, first 1,000", better: "higher", value: (r) => r.firstPerSec },
  { label: "warm-up: accepted msg/s, the rest", better: "higher", value: (r) => r.restPerSec },
  {
    label: "warm-up: first 1,000 ÷ the rest",
    better: "info",
    value: (r) =>
      r.firstPerSec === undefined || r.restPerSec === undefined ? undefined : r.firstPerSec / r.restPerSec,
  },
  { label: "latency p50 ms (end of data → 250)", better: "lower", value: (r) => r.p50Ms },
  { label: "latency p99 ms", better: "lower", value: (r) => r.p99Ms },
  { label: "peak RSS MB (all MTA processes)", better: "lower", value: (r) => mb(r.peakRssKb) },
  { label: "peak PSS MB (shared pages split)", better: "lower", value: (r) => mb(r.peakPssKb) },
  { label: "CPU s per 1,000 msgs", better: "lower", value: (r) => r.cpuPer1000 },
  { label: "MTA CPU % of one core (average)", better: "info", value: (r) => r.cpuPercent },
  { label: "MTA processes at peak", better: "info", value: (r) => r.peakProcesses },
  { label: "load client CPU % of one core", better: "info", value: (r) => r.clientCpuPercent },
  { label: "load client CPU s", better: "info", value: (r) => r.clientCpuSeconds },
  { label: "sink CPU s", better: "info", value: (r) => r.sinkCpuSeconds },
  { label: "harness CPU s (sampling, polling)", better: "info", value: (r) => r.harnessCpuSeconds },
];

/** Cluster scenarios: the balancer both paths go through, outside the MTA's CPU. */
const BALANCER_ROWS: Row[] = [
  { label: "balancer (HAProxy) CPU s", better: "info", value: (r) => r.balancerCpuSeconds },
];

/** Filtered scenarios: the filter process's own CPU (rspamd, OpenDKIM), outside the MTA's. */
const FILTER_ROWS: Row[] = [
  {
    label: "filter CPU s per 1,000 msgs (rspamd/OpenDKIM)",
    better: "lower",
    value: (r) => r.filterCpuPer1000,
  },
  {
    label: "MTA + filter CPU s per 1,000 msgs",
    better: "lower",
    // A filter inside the MTA (Mailyard's DKIM signing) has no process of its own: MTA alone.
    value: (r) => (r.cpuPer1000 === undefined ? undefined : r.cpuPer1000 + (r.filterCpuPer1000 ?? 0)),
  },
];

const IDLE_ROWS: Row[] = [
  { label: "RSS growth KB per connection", better: "lower", value: (r) => r.rssPerConnKb },
  { label: "PSS growth KB per connection", better: "lower", value: (r) => r.pssPerConnKb },
  { label: "RSS MB before", better: "info", value: (r) => mb(r.rssBeforeKb) },
  { label: "RSS MB with connections idle", better: "lower", value: (r) => mb(r.rssIdleKb) },
  { label: "PSS MB with connections idle", better: "lower", value: (r) => mb(r.pssIdleKb) },
  { label: "CPU s per 1,000 connections", better: "lower", value: (r) => r.cpuPer1000 },
  { label: "load client CPU s", better: "info", value: (r) => r.clientCpuSeconds },
];

function mb(kb: number | undefined): number | undefined {
  return kb === undefined ? undefined : kb / 1024;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1]! + s[m]!) / 2;
}

export interface SummaryRow {
  readonly metric: string;
  readonly better: Better;
  readonly mailyard: number | null;
  readonly postfix: number | null;
  /** Mailyard / Postfix. */
  readonly ratio: number | null;
  /** Mailyard / Postfix within each round where both runs completed: how much of it is noise. */
  readonly roundRatios: number[];
}

export function summarize(s: Scenario, all: readonly RunMetrics[]): SummaryRow[] {
  const rows =
    s.kind === "idle"
      ? IDLE_ROWS
      : [
          ...MESSAGE_ROWS,
          ...(s.filter === undefined ? [] : FILTER_ROWS),
          ...(s.cluster === undefined ? [] : BALANCER_ROWS),
        ];
  // The unfiltered baseline runs are weighed by baselineSummary, not against Postfix.
  const runs = all.filter((r) => r.variant === undefined);
  const med = (mta: string, row: Row): number | null => {
    const v = runs
      .filter((r) => r.mta === mta && r.ok)
      .map(row.value)
      .filter((x): x is number => x !== undefined && Number.isFinite(x));
    return median(v) ?? null;
  };
  const rounds = [...new Set(runs.map((r) => r.round))].sort((a, b) => a - b);
  const value = (mta: string, round: number, row: Row): number | undefined => {
    const r = runs.find((x) => x.mta === mta && x.round === round && x.ok);
    return r ? row.value(r) : undefined;
  };
  return rows.map((row) => {
    const m = med("mailyard", row);
    const p = med("postfix", row);
    const roundRatios = rounds.flatMap((round) => {
      const a = value("mailyard", round, row);
      const b = value("postfix", round, row);
      return a !== undefined && b !== undefined && b !== 0 ? [a / b] : [];
    });
    return {
      metric: row.label,
      better: row.better,
      mailyard: m,
      postfix: p,
      ratio: m !== null && p !== null && p !== 0 ? m / p : null,
      roundRatios,
    };
  });
}

function fmt(v: number | null): string {
  if (v === null) return "–";
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

const ratioNumber = (x: number): string => (x >= 0.1 ? x.toFixed(2) : x.toPrecision(2));

function ratioText(r: SummaryRow): string {
  // A ratio of two near-zero readings (the sink's CPU in a local-delivery run) means nothing.
  if (r.ratio === null || Math.max(Math.abs(r.mailyard ?? 0), Math.abs(r.postfix ?? 0)) < 0.01) return "–";
  return `${ratioNumber(r.ratio)}×${r.better === "info" ? "" : ` (${r.better} is better)`}`;
}

export function formatTable(s: Scenario, rounds: number, runs: readonly RunMetrics[]): string {
  const rows = summarize(s, runs);
  const okCount = (m: string): number => runs.filter((r) => r.mta === m && r.ok && !r.variant).length;
  const header = ["metric", "Mailyard", "Postfix", "Mailyard/Postfix", "per round"];
  const body = rows.map((r) => [
    r.metric,
    fmt(r.mailyard),
    fmt(r.postfix),
    ratioText(r),
    r.better === "info" || r.roundRatios.length < 2 ? "" : r.roundRatios.map(ratioNumber).join(" "),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 || i >= 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [
    `${s.name}: ${s.title}`,
    `  median of ${okCount("mailyard")}/${rounds} Mailyard and ${okCount("postfix")}/${rounds} Postfix runs that completed`,
    "  " + line(header).trimEnd(),
    "  " + widths.map((w) => "-".repeat(w)).join("  "),
    ...body.map((b) => "  " + line(b).trimEnd()),
  ];
  for (const r of runs.filter((x) => !x.ok))
    out.push(`  ! ${runLabel(r)} round ${r.round}: ${r.error ?? "failed"}`);
  const b = baselineSummary(runs);
  if (b !== null) out.push(`  ${baselineText(b)}`);
  return out.join("\n");
}

const runLabel = (r: RunMetrics): string => (r.variant ? `${r.mta} (${r.variant})` : r.mta);

export interface BaselineSummary {
  /** Median delivered msg/s of Mailyard with and without the filter, and the throughput lost. */
  readonly filtered: number;
  readonly unfiltered: number;
  readonly cost: number;
  readonly costPerRound: number[];
  /** Median Mailyard CPU s per 1,000 msgs with and without. */
  readonly cpuFiltered: number;
  readonly cpuUnfiltered: number;
}

/** Mailyard with the filter against Mailyard without it in the same rounds; null without baseline runs. */
export function baselineSummary(runs: readonly RunMetrics[]): BaselineSummary | null {
  const ours = (unfiltered: boolean): RunMetrics[] =>
    runs.filter((r) => r.mta === "mailyard" && r.ok && (r.variant === "unfiltered") === unfiltered);
  const with_ = ours(false);
  const without = ours(true);
  if (without.length === 0 || with_.length === 0) return null;
  const med = (rs: RunMetrics[], f: (r: RunMetrics) => number | undefined): number =>
    median(rs.map(f).filter((x): x is number => x !== undefined)) ?? 0;
  const filtered = med(with_, (r) => r.deliveredPerSec);
  const unfiltered = med(without, (r) => r.deliveredPerSec);
  const costPerRound = with_.flatMap((a) => {
    const b = without.find((x) => x.round === a.round);
    return b?.deliveredPerSec && a.deliveredPerSec !== undefined
      ? [1 - a.deliveredPerSec / b.deliveredPerSec]
      : [];
  });
  return {
    filtered,
    unfiltered,
    cost: unfiltered === 0 ? 0 : 1 - filtered / unfiltered,
    costPerRound,
    cpuFiltered: med(with_, (r) => r.cpuPer1000),
    cpuUnfiltered: med(without, (r) => r.cpuPer1000),
  };
}

export function baselineText(b: BaselineSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;
  return (
    `Mailyard with the filter vs without (same rounds): delivered ${fmt(b.filtered)} vs ${fmt(b.unfiltered)} msg/s, ` +
    `throughput cost ${pct(b.cost)}${b.costPerRound.length > 1 ? ` (per round ${b.costPerRound.map(pct).join(", ")})` : ""}; ` +
    `CPU ${fmt(b.cpuFiltered)} vs ${fmt(b.cpuUnfiltered)} s per 1,000 msgs`
  );
}

/** The same table in Markdown, for docs/BENCHMARKS.md. */
export function formatMarkdown(s: Scenario, rounds: number, runs: readonly RunMetrics[]): string {
  const okCount = (m: string): number => runs.filter((r) => r.mta === m && r.ok && !r.variant).length;
  const rows = summarize(s, runs).map(
    (r) =>
      `| ${r.metric} | ${fmt(r.mailyard)} | ${fmt(r.postfix)} | ${ratioText(r)} | ${
        r.better === "info" ? "" : r.roundRatios.map(ratioNumber).join(" ")
      } |`,
  );
  const failed = runs
    .filter((x) => !x.ok)
    .map((r) => `- ${runLabel(r)} round ${r.round} failed: ${r.error ?? ""}`);
  const b = baselineSummary(runs);
  return [
    `### ${s.name}`,
    "",
    `${s.title}. Median of ${okCount("mailyard")}/${rounds} Mailyard and ${okCount("postfix")}/${rounds} Postfix runs.`,
    "",
    "| metric | Mailyard | Postfix | Mailyard/Postfix | per round |",
    "| --- | ---: | ---: | --- | --- |",
    ...rows,
    ...(failed.length ? ["", ...failed] : []),
    ...(b === null ? [] : ["", baselineText(b) + "."]),
  ].join("\n");
}

export function formatMachine(m: Machine): string {
  return [
    `date:       ${m.date}`,
    `machine:    ${m.nproc} CPUs (${m.cpu}), ${m.memoryGb} GB, ${m.kernel}`,
    `software:   Node ${m.node}, Postfix ${m.postfix}, Mailyard ${m.mailyardCommit}`,
    `spool on:   ${m.filesystem}`,
  ].join("\n");
}

/** One line per run, printed as runs finish. */
export function formatRun(s: Scenario, r: RunMetrics): string {
  const head = `${s.name} round ${r.round} ${runLabel(r).padEnd(8)}`;
  if (!r.ok && r.acked === undefined && r.connections === undefined)
    return `${head} FAILED: ${r.error ?? ""}`;
  const parts =
    s.kind === "idle"
      ? [
          `${r.connections ?? 0} conns`,
          `RSS ${fmt(r.rssPerConnKb ?? null)} KB/conn`,
          `PSS ${fmt(r.pssPerConnKb ?? null)} KB/conn`,
        ]
      : [
          `accepted ${fmt(r.acceptedPerSec ?? null)}/s`,
          `delivered ${fmt(r.deliveredPerSec ?? null)}/s`,
          `p50 ${fmt(r.p50Ms ?? null)} ms`,
          `p99 ${fmt(r.p99Ms ?? null)} ms`,
          `RSS ${fmt(mb(r.peakRssKb) ?? null)} MB`,
          `CPU ${fmt(r.cpuPer1000 ?? null)} s/1k`,
          `client CPU ${fmt(r.clientCpuSeconds ?? null)} s`,
          ...(r.filterCpuPer1000 === undefined ? [] : [`filter CPU ${fmt(r.filterCpuPer1000)} s/1k`]),
        ];
  return `${head} ${parts.join(", ")}${r.ok ? "" : `  (FAILED: ${r.error ?? ""})`}`;
}
