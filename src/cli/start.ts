// `mailyard start`: the node in the foreground until SIGINT or SIGTERM, then a graceful stop
// (listeners closed, deliveries finished or left in the spool, log flushed). A second signal
// during the stop exits at once.
import { ConfigError } from "../config/load.js";
import type { Settings } from "../config/settings.js";
import { createLogSink } from "../log/sink.js";
import { systemClock } from "../world/clock.js";
import { CliError } from "./io.js";

/** `pinned`: the keys environment or --set gave, which stored settings do not override. */
export async function startCommand(settings: Settings, pinned: ReadonlySet<string>): Promise<void> {
  const sink = createLogSink({ settings, clock: systemClock, stdout: process.stdout });
  const sys = sink.for("SYSTEM");
  let node: { stop(): Promise<void> };
  try {
    // Loaded here, so directory and queue commands do not load the whole server.
    const { startNode } = await import("../server/node.js");
    node = await startNode(settings, { log: sink, pinned });
  } catch (e) {
    sys.crash("start failed", { error: e instanceof Error ? e.message : String(e) });
    await sink.close();
    // A setting the node cannot run with (a file it names, a value only the start can check)
    // stays a ConfigError, which main() maps to exit 2 with every other configuration error.
    if (e instanceof ConfigError) throw new ConfigError(`cannot start: ${e.message}`);
    // Exit 2 for a data directory another node holds, or a dynamic backend's mailbox root that
    // is not the shared one: nothing was changed, and a supervisor can tell it from a crash.
    const refused =
      e instanceof Error && (e.name === "DataDirInUseError" || e.name === "MailRootNotSharedError");
    throw new CliError(`cannot start: ${e instanceof Error ? e.message : String(e)}`, refused ? 2 : 1);
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  const force = (): never => process.exit(1);
  process.once("SIGINT", force);
  process.once("SIGTERM", force);
  sys.major("stopping", { signal });
  try {
    await node.stop();
  } finally {
    await sink.close();
    process.off("SIGINT", force);
    process.off("SIGTERM", force);
  }
}
