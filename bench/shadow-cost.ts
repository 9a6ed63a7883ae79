// The cost of shadow copies (issue 16): cluster relay through frontend f1 (peer f2, backend b1,
// real member processes from test/cluster/processes-kit.ts) to smtp-sink, with queue.shadow off
// and preferred in the same run, alternating, each round on fresh data directories. Prints the
// acknowledged messages per second of each and their ratio. Not part of `npm run bench` (no
// Postfix counterpart: a single Postfix has no second copy to compare with).
//
//   npm run build && node dist/bench/shadow-cost.js [messages] [rounds]
import { startProcCluster } from "../test/cluster/processes-kit.js";
import { runLoad } from "../test/kit/load.js";
import { startSink } from "../test/kit/sink.js";

const messages = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 2);
const rates: Record<"off" | "preferred", number[]> = { off: [], preferred: [] };

for (let round = 0; round < rounds; round++) {
  for (const mode of ["off", "preferred"] as const) {
    const afters: (() => Promise<void>)[] = [];
    const sink = await startSink();
    try {
      const c = await startProcCluster({ after: (fn) => afters.push(fn) }, [
        `smtp.forwardTo=127.0.0.1:${sink.port}`,
        `queue.shadow=${mode}`,
      ]);
      await c.start("b1", "backend");
      const f1 = await c.start("f1", "frontend");
      const f2 = await c.start("f2", "frontend");
      await c.waitLive([f1, f2], ["b1", "f1", "f2"]);
      const t0 = performance.now();
      const r = await runLoad({
        port: f1.smtp,
        sessions: 20,
        messages,
        from: "sender@remote.test",
        to: (i) => `r${i}@remote.test`,
        bodyBytes: 2048,
        timeoutMs: 120_000,
      });
      const rate = r.acked.length / ((performance.now() - t0) / 1000);
      rates[mode].push(rate);
      console.log(
        `round ${round + 1} queue.shadow=${mode}: ${r.acked.length}/${messages} acked, ${rate.toFixed(0)} msg/s`,
      );
    } finally {
      for (const fn of afters.reverse()) await fn();
      await sink.stop();
    }
  }
}
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(
  `mean: off ${mean(rates.off).toFixed(0)} msg/s, preferred ${mean(rates.preferred).toFixed(0)} msg/s, ` +
    `preferred/off ${(mean(rates.preferred) / mean(rates.off)).toFixed(2)}`,
);
