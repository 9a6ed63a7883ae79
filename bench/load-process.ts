// Entry of the load generator's own process (forked by load-remote.ts), so its CPU is measured
// apart from the harness and its timings are not disturbed by the harness's sampling. Obeys one
// request over IPC and answers with the result and the CPU seconds it spent.
import { holdIdle, runLoad } from "./load.js";
import type { LoadReply, LoadRequest } from "./load-remote.js";

const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const reply = (m: LoadReply): void => void process.send?.(m);

process.on("message", (m: LoadRequest) => {
  const cpu0 = cpuSeconds();
  const work = async (): Promise<void> => {
    switch (m.type) {
      case "run": {
        const result = await runLoad(m.port, m.workload, m.timeoutMs);
        reply({ type: "done", result, cpuSeconds: cpuSeconds() - cpu0 });
        return;
      }
      case "idle": {
        const hold = await holdIdle(m.port, m.count, m.timeoutMs);
        reply({ type: "idle-ready", opened: hold.opened, failed: hold.failed });
        process.once("message", () => {
          hold.close();
          reply({ type: "closed", cpuSeconds: cpuSeconds() - cpu0 });
        });
        return;
      }
    }
  };
  work().catch((e: unknown) => reply({ type: "error", message: e instanceof Error ? e.message : String(e) }));
});
// The harness going away (crash, SIGKILL) closes the IPC channel: stop with it.
process.on("disconnect", () => process.exit(0));
