// `npm run bench`: Mailyard against a private Postfix on the same workloads, alternating
// Mailyard/Postfix runs for several rounds with a fresh spool each run, then a table per scenario
// (and JSON with --json); and Mailyard clusters with shadow copies off and on (shadow-cost.ts).
// Everything runs on 127.0.0.1; everything started is stopped on the way out, also after an
// error or SIGINT. See docs/BENCHMARKS.md.
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { execFile } from "node:child_process";
import { parseArgs, promisify } from "node:util";
import { Aborted, cleanupAll, installCleanupHandlers, onCleanup, throwIfAborted } from "./cleanup.js";
import { startFilter, type FilterName, type FilterPeer } from "./filters.js";
import { ceilingText, measureMilterCeiling, milterPort } from "./milter-ceiling.js";
import { makeDirectoryTemplate, snapshotMailyard } from "./mailyard.js";
import { runOnce, type RunMetrics } from "./measure.js";
import type { MtaName } from "./mta.js";
import {
  baselineSummary,
  formatMachine,
  formatMarkdown,
  formatRun,
  formatTable,
  machineInfo,
  summarize,
} from "./report.js";
import { DEFAULT_SCENARIOS, MAILBOXES, scenario, SCENARIO_NAMES, type Scenario } from "./scenarios.js";
import {
  formatShadowTable,
  SHADOW_NAMES,
  shadowRun,
  shadowScenario,
  type ShadowMode,
  type ShadowRun,
  type ShadowScenario,
} from "./shadow-cost.js";
import { startSink } from "./sink.js";
import { remoteLoad } from "./load-remote.js";
import type { Workload } from "./workload.js";

/** Sent straight into the sink before the first run (see main). */
const WARM_UP: Omit<Workload, "mailboxes"> = {
  kind: "relay",
  messages: 2000,
  sessions: 20,
  messageBytes: 2048,
  recipients: 1,
};

const USAGE = `usage: npm run bench -- [--rounds N] [--quick] [--scenario NAME]... [--json FILE] [--markdown FILE] [--dir DIR] [--profile DIR] [--set KEY=VALUE]...
  --rounds N       Mailyard/Postfix pairs per scenario (default 3; 1 with --quick)
  --quick          small workloads, one round unless --rounds is given (a smoke run)
  --scenario NAME  only this scenario (repeatable, or comma-separated): ${[...SCENARIO_NAMES, ...SHADOW_NAMES].join(", ")}
                   (without it: ${[...DEFAULT_SCENARIOS, ...SHADOW_NAMES].join(", ")}; the filtered and cluster ones run by name;
                   the cluster-*-shadow ones compare Mailyard clusters with queue.shadow off and preferred)
  --json FILE      also write every run and the medians as JSON
  --markdown FILE  also write the machine and the tables as Markdown (for docs/BENCHMARKS.md)
  --dir DIR        where the temporary spools go (default ${tmpdir()}); its filesystem matters (fsync)
  --profile DIR    run Mailyard under node --cpu-prof and keep one .cpuprofile per run in DIR
  --set KEY=VALUE  a Mailyard setting for every Mailyard run (repeatable), e.g. to measure an
                   optimisation off: --set local.deliverOnReceipt=false
environment: BENCH_KEEP=1 keeps the benchmark directory (spools, filter logs) for a look afterwards`;

interface Options {
  readonly rounds: number;
  readonly quick: boolean;
  readonly scenarios: Scenario[];
  readonly shadow: ShadowScenario[];
  readonly json: string | null;
  readonly markdown: string | null;
  readonly dir: string;
  readonly profile: string | null;
  readonly sets: readonly string[];
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string" },
      quick: { type: "boolean", default: false },
      scenario: { type: "string", multiple: true },
      json: { type: "string" },
      markdown: { type: "string" },
      dir: { type: "string" },
      profile: { type: "string" },
      set: { type: "string", multiple: true },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const rounds = values.rounds === undefined ? (values.quick ? 1 : 3) : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error("--rounds must be 1..20");
  const names = (values.scenario ?? [...DEFAULT_SCENARIOS, ...SHADOW_NAMES])
    .flatMap((s) => s.split(","))
    .filter(Boolean);
  const shadow = names.flatMap((n) => shadowScenario(n, values.quick) ?? []);
  const scenarios = names
    .filter((n) => !shadow.some((s) => s.name === n))
    .map((n) => {
      const s = scenario(n, values.quick);
      if (!s)
        throw new Error(`unknown scenario ${n}; known: ${[...SCENARIO_NAMES, ...SHADOW_NAMES].join(", ")}`);
      return s;
    });
  return {
    rounds,
    quick: values.quick,
    scenarios,
    shadow,
    json: values.json === undefined ? null : resolve(values.json),
    markdown: values.markdown === undefined ? null : resolve(values.markdown),
    dir: resolve(values.dir ?? tmpdir()),
    profile: values.profile === undefined ? null : resolve(values.profile),
    sets: (values.set ?? []).map((kv) => {
      if (!/^[A-Za-z0-9.]+=/.test(kv)) throw new Error(`--set needs KEY=VALUE, got ${JSON.stringify(kv)}`);
      return kv;
    }),
  };
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = options(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error("bench: must run as root (a private Postfix instance needs it)");
    return 1;
  }
  installCleanupHandlers();
  const base = await mkdtemp(join(o.dir, "mailyard-bench-"));
  if (process.env.BENCH_KEEP !== "1")
    onCleanup("benchmark directory", () => rm(base, { recursive: true, force: true }));
  // Postfix's daemons run as "postfix" and "nobody" and must reach their run directories.
  await chmod(base, 0o755);
  const machine = machineInfo(base);
  console.log(formatMachine(machine));
  console.log(
    `command:    npm run bench -- ${process.argv.slice(2).join(" ")}`.trimEnd() +
      `\nrounds:     ${o.rounds} (Mailyard/Postfix, order swapped every other round, fresh spool each run)\n`,
  );

  const sink = await startSink();
  // The sink is one process for the whole benchmark, so without this the first run (always
  // Mailyard's) would meet it cold (JIT, first connections) and every later run warm. Both
  // kinds of transfer it will see: DATA (the load generator) and BDAT (Mailyard's client) share
  // its parser; the DATA path warms the process.
  await remoteLoad(sink.port, { ...WARM_UP, mailboxes: MAILBOXES }, 60_000);
  const template = await makeDirectoryTemplate(await mkdtemp(join(base, "directory-")), MAILBOXES);
  throwIfAborted();
  const mailyardBin = await snapshotMailyard(join(base, "build"));
  // The build, the snapshot and the directory template left dirty pages: write them back now,
  // or the first run (always Mailyard's) pays for them, as every later run starts after a sync.
  await promisify(execFile)("sync", []).catch(() => undefined);
  if (o.profile !== null) await mkdir(o.profile, { recursive: true });
  // The filters the selected scenarios need, once for all their runs (rspamd takes minutes to
  // compile its expressions; both MTAs then meet the same warm filter).
  const filters = new Map<FilterName, FilterPeer>();
  for (const s of o.scenarios) {
    if (s.kind !== "messages" || s.filter === undefined || filters.has(s.filter)) continue;
    console.error(`starting the ${s.filter} filter`);
    filters.set(s.filter, await startFilter(s.filter, join(base, `filter-${s.filter}`), template));
    throwIfAborted();
  }
  const ctx = {
    filters,
    baseDir: base,
    profileDir: o.profile,
    mailyardSets: o.sets,
    sink,
    template,
    mailyardBin,
    loadTimeoutMs: o.quick ? 120_000 : 600_000,
    deliveryTimeoutMs: o.quick ? 120_000 : 300_000,
  };
  const results: { scenario: Scenario; runs: RunMetrics[]; ceiling: string | null }[] = [];
  for (const s of o.scenarios) {
    const runs: RunMetrics[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      // A/B, then B/A: neither MTA always gets the first slot, so a drift of the machine over
      // time (disk, thermal, neighbours) does not favour one of them.
      // A scenario with a baseline also runs Mailyard without its filter, in the same rounds.
      const baseline = s.kind === "messages" && s.baseline === true;
      const order: [MtaName, boolean][] = [
        ["mailyard", false],
        ["postfix", false],
        ...(baseline ? [["mailyard", true] as [MtaName, boolean]] : []),
      ];
      if (round % 2 === 0) order.reverse();
      for (const [name, unfiltered] of order) {
        const r = await runOnce(s, name, round, ctx, { unfiltered });
        runs.push(r);
        console.error(formatRun(s, r));
      }
    }
    // A content filter's own capacity bounds both MTAs: measured once, after their rounds.
    const rspamd = s.kind === "messages" && s.filter === "rspamd" ? filters.get("rspamd") : undefined;
    const ceiling =
      s.kind === "messages" && rspamd !== undefined
        ? ceilingText(
            await measureMilterCeiling(milterPort(rspamd.postfixMilter), rspamd.pid, s.workload),
            runs,
          )
        : null;
    results.push({ scenario: s, runs, ceiling });
    console.log(`\n${formatTable(s, o.rounds, runs)}${ceiling === null ? "" : `\n  ${ceiling}`}\n`);
  }

  // Shadow copies: a cluster per run, off and preferred in each round, the order swapped every
  // other round as above.
  const shadowResults: { scenario: ShadowScenario; runs: ShadowRun[] }[] = [];
  for (const s of o.shadow) {
    const runs: ShadowRun[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      const order: ShadowMode[] = round % 2 === 0 ? ["preferred", "off"] : ["off", "preferred"];
      for (const mode of order) {
        const r = await shadowRun(s, mode, round, ctx);
        runs.push(r);
        console.error(
          `${s.name} round ${round} queue.shadow=${mode}: ${r.ok ? `${(r.acceptedPerSec ?? 0).toFixed(0)} msg/s, p50 ${(r.p50Ms ?? 0).toFixed(1)} ms, p95 ${(r.p95Ms ?? 0).toFixed(1)} ms, ${(r.cpuMsPerMsg ?? 0).toFixed(2)} CPU ms/msg` : `failed: ${r.error ?? "?"}`}, load ${r.load1.toFixed(1)}`,
        );
        await promisify(execFile)("sync", []).catch(() => undefined);
      }
    }
    shadowResults.push({ scenario: s, runs });
    console.log(`\n${formatShadowTable(s, runs)}\n`);
  }

  if (o.json) {
    await mkdir(dirname(o.json), { recursive: true });
    const doc = {
      machine,
      rounds: o.rounds,
      quick: o.quick,
      scenarios: results.map(({ scenario: s, runs }) => ({
        name: s.name,
        title: s.title,
        ...(s.kind === "messages" ? { workload: s.workload } : { connections: s.connections }),
        ...(s.kind === "messages" && s.filter !== undefined ? { filter: s.filter } : {}),
        summary: summarize(s, runs),
        ...(baselineSummary(runs) !== null ? { baseline: baselineSummary(runs) } : {}),
        runs,
      })),
      shadow: shadowResults.map(({ scenario: s, runs }) => ({
        name: s.name,
        title: s.title,
        workload: s.workload,
        runs,
      })),
    };
    await writeFile(o.json, JSON.stringify(doc, null, 2) + "\n");
    console.log(`results written to ${o.json}`);
  }
  if (o.markdown) {
    await mkdir(dirname(o.markdown), { recursive: true });
    const md = [
      "```",
      formatMachine(machine),
      `command:    npm run bench -- ${process.argv.slice(2).join(" ")}`.trimEnd(),
      "```",
      ...results.map(
        ({ scenario: s, runs, ceiling }) =>
          `\n${formatMarkdown(s, o.rounds, runs)}${ceiling === null ? "" : `\n\n${ceiling}.`}`,
      ),
      ...shadowResults.map(({ scenario: s, runs }) => `\n${formatShadowTable(s, runs)}`),
    ];
    await writeFile(o.markdown, md.join("\n") + "\n");
    console.log(`tables written to ${o.markdown}`);
  }
  return results.every((x) => x.runs.every((r) => r.ok)) &&
    shadowResults.every((x) => x.runs.every((r) => r.ok))
    ? 0
    : 1;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  if (e instanceof Aborted) code = 130;
  else console.error(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
} finally {
  await cleanupAll();
}
process.exit(code);
