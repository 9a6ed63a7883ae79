// What grew between two V8 heap snapshots, per object kind: e.g. what an idle connection holds.
//   node --heapsnapshot-signal=SIGUSR2 bin/mailyard.js start …   (kill -USR2 before and after)
//   node dist/bench/heap-diff.js BEFORE.heapsnapshot AFTER.heapsnapshot 1000 [rows]
// prints, per kind (node type and constructor), the growth of self size and count divided by N
// (1000 connections: bytes and objects per connection), largest first.
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count per kind; strings, numbers and code are one kind each. */
function kinds(file: string): Map<string, [number, number]> {
  const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const width = fields.length;
  const [type, name, size] = ["type", "name", "self_size"].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const types = s.snapshot.meta.node_types[0];
  const out = new Map<string, [number, number]>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const t = types[s.nodes[i + type]!] ?? "?";
    const n = /string|number|code/.test(t) ? `(${t})` : (s.strings[s.nodes[i + name]!] ?? "").slice(0, 60);
    const k = `${t}:${n}`;
    const a = out.get(k) ?? [0, 0];
    a[0] += s.nodes[i + size]!;
    a[1]++;
    out.set(k, a);
  }
  return out;
}

const [before, after, perArg = "1", rowsArg = "40"] = process.argv.slice(2);
if (before === undefined || after === undefined) {
  console.error("usage: node dist/bench/heap-diff.js BEFORE.heapsnapshot AFTER.heapsnapshot [N] [rows]");
  process.exit(2);
}
const per = Number(perArg);
const a = kinds(before);
const rows = [...kinds(after)].map(([k, [bytes, count]]) => {
  const [b0, c0] = a.get(k) ?? [0, 0];
  return { k, bytes: (bytes - b0) / per, count: (count - c0) / per };
});
rows.sort((x, y) => y.bytes - x.bytes);
console.log(`self size grown per unit: ${rows.reduce((t, r) => t + r.bytes, 0).toFixed(0)} bytes`);
for (const r of rows.slice(0, Number(rowsArg)))
  console.log(`${r.bytes.toFixed(1).padStart(9)} B ${r.count.toFixed(2).padStart(7)}  ${r.k}`);
