// `npm run faults`: every fault scenario of scenarios.ts at full size against real processes,
// one after the other, then the table (scenario, sent, acknowledged, delivered, lost,
// duplicated, time to recover) on stdout and in docs/RELIABILITY.md with the date, the commit
// and the machine's load. A scenario that fails to run becomes a row saying why; the exit
// status is 1 when any lost a message or failed its own checks.
//
//   npm run faults -- [--scenario NAME]... [--messages N] [--no-write]
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { FULL, SCENARIOS, type FaultScenario, type Outcome } from "./scenarios.js";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const run = promisify(execFile);

const USAGE = `usage: npm run faults -- [--scenario NAME]... [--messages N] [--no-write]
  --scenario NAME  only this scenario (repeatable or comma-separated): ${SCENARIOS.map((s) => s.name).join(", ")}
  --messages N     messages per scenario (default ${FULL.messages}; the fault strikes after a quarter are acknowledged)
  --no-write       print the table, leave docs/RELIABILITY.md alone (a run of some scenarios never writes it)`;

type Row = { s: FaultScenario; out: Outcome | null; error: string | null; wallMs: number };

const seconds = (ms: number | null): string => (ms === null ? "never" : `${(ms / 1000).toFixed(1)} s`);

function table(rows: readonly Row[]): string {
  const head = "| scenario | sent | acknowledged | delivered | lost | duplicated | time to recover |";
  const lines = rows.map(({ s, out, error }) => {
    if (s.pending !== undefined) return `| ${s.title} | ${s.pending} | | | | | |`;
    if (out === null) return `| ${s.title} | failed to run: ${error ?? "?"} | | | | | |`;
    const bad = out.lost.length > 0 || out.problems.length > 0 ? " ✗" : "";
    return `| ${s.title}${bad} | ${out.sent} | ${out.acked} | ${out.delivered} | ${out.lost.length} | ${out.duplicated} | ${seconds(out.recoverMs)} |`;
  });
  return [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |", ...lines].join("\n");
}

function details(rows: readonly Row[]): string {
  return rows
    .map(({ s, out, error, wallMs }) => {
      const lines = [`### ${s.title} (\`${s.name}\`)`, "", s.how, ""];
      if (s.pending !== undefined) lines.push(`Not run: ${s.pending.replace(/^not run: /, "")}.`);
      else if (out === null) lines.push(`Failed to run: ${error ?? "?"}`);
      else {
        lines.push(
          `Run time ${seconds(wallMs)}. ${out.unackedDelivered} delivered without a 250 (cut off by the fault).`,
        );
        for (const n of out.notes) lines.push(`- ${n}`);
        for (const p of out.problems) lines.push(`- **problem:** ${p}`);
        if (out.lost.length > 0) lines.push(`- **lost:** ${out.lost.slice(0, 20).join(", ")}`);
      }
      return lines.join("\n");
    })
    .join("\n\n");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", multiple: true },
      messages: { type: "string" },
      "no-write": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const names = (values.scenario ?? []).flatMap((x) => x.split(",")).filter(Boolean);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  const messages = values.messages === undefined ? FULL.messages : Number(values.messages);
  if (unknown.length > 0 || !Number.isInteger(messages) || messages < 40) {
    console.error(
      `faults: ${unknown.length > 0 ? `unknown scenario ${unknown.join(", ")}` : "--messages must be an integer ≥ 40"}\n${USAGE}`,
    );
    return 2;
  }
  const size = { ...FULL, messages, faultAt: Math.floor(messages / 4) };
  const chosen = names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name));
  const commit = (await run("git", ["rev-parse", "HEAD"], { cwd: repo })).stdout.trim();
  const dirty = // This file itself is left out: it is what the run rewrites.
    (
      await run(
        "git",
        ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/RELIABILITY.md"],
        {
          cwd: repo,
        },
      )
    ).stdout.trim();
  const startedAt = new Date();
  const loads: number[][] = [loadavg()];
  const rows: Row[] = [];
  for (const s of chosen) {
    if (s.pending !== undefined) {
      console.log(`${s.name}: ${s.pending}`);
      rows.push({ s, out: null, error: null, wallMs: 0 });
      continue;
    }
    console.log(`${s.name}: ${s.title}, ${size.messages} messages`);
    const afters: (() => Promise<void>)[] = [];
    const t0 = Date.now();
    let row: Row;
    try {
      const out = await s.run({ after: (fn) => afters.push(fn) }, size, (l) => console.log(`  ${l}`));
      row = { s, out, error: null, wallMs: Date.now() - t0 };
    } catch (e) {
      row = { s, out: null, error: e instanceof Error ? e.message : String(e), wallMs: Date.now() - t0 };
    } finally {
      // In the order registered, as node:test runs t.after (the kit relies on it).
      for (const fn of afters) await fn().catch((e: unknown) => console.error(`  cleanup: ${String(e)}`));
    }
    rows.push(row);
    loads.push(loadavg());
    for (const n of row.out?.notes ?? []) console.log(`  - ${n}`);
    const o = row.out;
    console.log(
      o === null
        ? `  failed: ${row.error}`
        : `  sent ${o.sent}, acked ${o.acked}, delivered ${o.delivered}, lost ${o.lost.length}, duplicated ${o.duplicated}, recovered in ${seconds(o.recoverMs)}${o.problems.length > 0 ? `; problems: ${o.problems.join("; ")}` : ""}`,
    );
  }
  const t = table(rows);
  console.log(`\n${t}`);
  const avg = (loads.map((l) => l[0]!).reduce((a, b) => a + b, 0) / loads.length).toFixed(1);
  const doc = [
    "# Reliability: the fault suite",
    "",
    "`npm run faults` runs each fault scenario of issue 16 against real processes (`mailyard start` " +
      "members on 127.0.0.1, smtp-sink for relayed mail, Maildirs for local mail, a private PostgreSQL " +
      "where the scenario uses one) and writes this file. Each sends a bounded load, mixed local and " +
      "relayed (every other message relayed), through 16 SMTP sessions; the fault strikes once a quarter " +
      "of the messages are acknowledged. *Lost* and *duplicated* are counted by Message-ID, from what the " +
      "load got a 250 for against what smtp-sink and the Maildirs hold in the end, never assumed; " +
      "*delivered* counts acknowledged messages that arrived. *Time to recover* runs from the end of the " +
      "fault (named per scenario) until the last message acknowledged before it arrived (file ctimes). " +
      "The smaller, bounded version of each scenario in the test suite is listed in docs/OPERATIONS.md " +
      '("Faults and what survives them"). The code: bench/faults/.',
    "",
    "```",
    `date:     ${startedAt.toISOString()}`,
    `commit:   ${commit}${dirty === "" ? "" : " (with uncommitted changes)"}`,
    `command:  npm run faults${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    `node:     ${process.version}`,
    `load:     ${loads.map((l) => l[0]!.toFixed(1)).join(", ")} (1-min load average before and after each scenario; mean ${avg}; 2 cores, shared with other work)`,
    "```",
    "",
    t,
    "",
    "✗: the scenario lost a message or failed one of its own checks (below).",
    "",
    "## Scenarios",
    "",
    details(rows),
    "",
  ].join("\n");
  // Only a run of every scenario replaces the published table.
  if (!values["no-write"] && names.length === 0) {
    const path = join(repo, "docs", "RELIABILITY.md");
    const before = await readFile(path, "utf8").catch(() => "");
    if (before !== doc) await writeFile(path, doc);
    console.log(`written to ${path}`);
  }
  return rows.every(
    (r) =>
      r.s.pending !== undefined || (r.out !== null && r.out.lost.length === 0 && r.out.problems.length === 0),
  )
    ? 0
    : 1;
}

process.exit(await main());
