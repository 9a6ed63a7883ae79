// The harness's handle on the relay sink (sink-process.ts, its own process): start it on a free
// loopback port, reset and read its counters over IPC, stop it. Registered for cleanup.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { onCleanup } from "./cleanup.js";
import { freePort } from "./ports.js";

export type SinkRequest = { type: "reset" } | { type: "stats" };

export interface SinkStats {
  readonly messages: number;
  readonly recipients: number;
  /** Wall-clock ms (epoch) of the first and last message completed since the last reset. */
  readonly firstAtMs: number;
  readonly lastAtMs: number;
  readonly connections: number;
  /** CPU seconds the sink used since the last reset. */
  readonly cpuSeconds: number;
}

export type SinkReply = { type: "listening" } | ({ type: "stats" } & SinkStats);

export interface Sink {
  readonly port: number;
  readonly pid: number;
  reset(): Promise<SinkStats>;
  stats(): Promise<SinkStats>;
  stop(): Promise<void>;
}

const entry = fileURLToPath(new URL("./sink-process.js", import.meta.url));

export async function startSink(): Promise<Sink> {
  const port = await freePort();
  const child = fork(entry, [String(port)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.on("error", () => undefined);
  const stop = onCleanup("sink", async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await gone;
    }
  });
  const nextReply = (timeoutMs: number): Promise<SinkReply> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.off("message", on);
        reject(new Error("sink did not answer"));
      }, timeoutMs);
      const on = (m: SinkReply): void => {
        clearTimeout(timer);
        resolve(m);
      };
      child.once("message", on);
    });
  try {
    await Promise.race([
      nextReply(15_000),
      gone.then(() => Promise.reject(new Error("sink exited at start"))),
    ]);
  } catch (e) {
    await stop();
    throw e;
  }
  const ask = async (m: SinkRequest): Promise<SinkStats> => {
    if (!child.connected) throw new Error("sink is gone");
    const reply = nextReply(10_000);
    child.send(m);
    const r = await reply;
    if (r.type !== "stats") throw new Error(`sink answered ${r.type}`);
    return r;
  };
  return {
    port,
    pid: child.pid!,
    reset: () => ask({ type: "reset" }),
    stats: () => ask({ type: "stats" }),
    stop,
  };
}
