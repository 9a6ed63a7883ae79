// What the bench self-tests give runOnce for runs of a few messages: the working tree's build
// (not a snapshot), short bounds, no profile and no extra settings.
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cleanupAll } from "./cleanup.js";
import type { FilterName, FilterPeer } from "./filters.js";
import { makeDirectoryTemplate } from "./mailyard.js";
import { runOnce, type RunContext, type RunMetrics } from "./measure.js";
import { MAILBOXES, scenario } from "./scenarios.js";
import { startSink, type Sink } from "./sink.js";

export const smallRunContext = (
  base: string,
  sink: Sink,
  template: string,
  filters: ReadonlyMap<FilterName, FilterPeer>,
): RunContext => ({
  baseDir: base,
  profileDir: null,
  mailyardSets: [],
  sink,
  template,
  mailyardBin: fileURLToPath(new URL("../../bin/mailyard.js", import.meta.url)),
  loadTimeoutMs: 60_000,
  deliveryTimeoutMs: 60_000,
  filters,
});

/**
 * Runs scenario `name` (its --quick form cut to `messages`) once against each MTA with the
 * working tree's build, in a temporary directory removed afterwards; returns both runs.
 */
export async function runBothSmall(name: string, messages: number): Promise<RunMetrics[]> {
  const base = await mkdtemp(join(tmpdir(), "mailyard-bench-test-"));
  await chmod(base, 0o755);
  const sink = await startSink();
  try {
    const template = await makeDirectoryTemplate(await mkdtemp(join(base, "directory-")), MAILBOXES);
    const ctx = smallRunContext(base, sink, template, new Map());
    const s = scenario(name, true);
    if (s?.kind !== "messages") throw new Error(`${name} is no message scenario`);
    const small = { ...s, workload: { ...s.workload, messages, sessions: 2 } };
    return [await runOnce(small, "mailyard", 1, ctx), await runOnce(small, "postfix", 1, ctx)];
  } finally {
    await sink.stop();
    await cleanupAll();
    await rm(base, { recursive: true, force: true });
  }
}

/**
 * The self-test of a traffic-like scenario: a few messages through each MTA, every one accepted
 * and arrived (Maildir files for local scenarios, the sink's count for relay ones), through the
 * balancer exactly where the scenario says so. Skipped without root, as the benchmark needs it.
 */
export async function checkScenarioEndToEnd(t: { skip(why: string): void }, name: string): Promise<void> {
  if (process.getuid?.() !== 0) return t.skip("needs root, as the benchmark does (a private Postfix)");
  const s = scenario(name, true);
  const balanced = s?.kind === "messages" && s.cluster !== undefined;
  for (const r of await runBothSmall(name, 6)) {
    assert.equal(r.error, null, r.mta);
    assert.equal(r.acked, 6, r.mta);
    assert.equal(r.deliveredRecipients, 6, r.mta);
    assert.equal(r.balancerCpuSeconds !== undefined, balanced, r.mta);
  }
}
