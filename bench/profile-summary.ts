// `node dist/bench/profile-summary.js FILE.cpuprofile [N]`: the top N functions of a V8 CPU
// profile (written by `npm run bench -- --profile DIR`) by self time and by total time, with
// their share of the samples: a flame graph's widest frames as text, for BENCHMARKS.md. Chrome
// DevTools or speedscope open the same file as a flame graph.
import { readFileSync } from "node:fs";

interface Node {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}
interface Profile {
  readonly nodes: Node[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: profile-summary FILE.cpuprofile [N]");
  process.exit(2);
}
const top = Number(topArg ?? 25);
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n: Node): string => {
  const f = n.callFrame;
  const where =
    f.url === "" ? "" : ` ${f.url.replace(/^.*\/(dist|node_modules)\//, "$1/")}:${f.lineNumber + 1}`;
  return `${f.functionName || "(anonymous)"}${where}`;
};

const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
p.samples.forEach((id, i) => {
  const dt = p.timeDeltas[i] ?? 0;
  all += dt;
  const leaf = byId.get(id);
  if (leaf === undefined) return;
  self.set(label(leaf), (self.get(label(leaf)) ?? 0) + dt);
  // Each function once per sample, however deep it recurses.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur);
    if (n === undefined) break;
    const l = label(n);
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + dt);
  }
});

const show = (title: string, m: Map<string, number>): void => {
  console.log(`\n${title} (of ${(all / 1e6).toFixed(2)} s sampled)`);
  for (const [k, v] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * v) / all).toFixed(1).padStart(6)} %  ${k}`);
  }
};
show("self time", self);
show("total time", total);
