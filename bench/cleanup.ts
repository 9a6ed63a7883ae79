// Everything the benchmark starts registers how to stop it here, so an error, SIGINT or SIGTERM
// still stops every process and removes every temporary directory. Undo steps run last-in
// first-out, each at most once, and a failing step never keeps the others from running.
//
// A first signal aborts: the load generator is killed, the current run unwinds through its own
// stop steps (so an MTA whose start is under way is stopped once it is up, not raced), and the
// harness cleans up and exits. A second signal cleans up whatever is registered and exits at once.

type Undo = () => Promise<void> | void;

const steps = new Map<number, { what: string; undo: Undo }>();
let nextId = 0;
const controller = new AbortController();

/** Aborted on the first SIGINT/SIGTERM; long waits listen to it, the main loop checks it. */
export const aborted: AbortSignal = controller.signal;

export class Aborted extends Error {
  constructor() {
    super("interrupted");
    this.name = "Aborted";
  }
}

export function throwIfAborted(): void {
  if (aborted.aborted) throw new Aborted();
}

/** Registers an undo step; the returned function runs it now and forgets it. */
export function onCleanup(what: string, undo: Undo): () => Promise<void> {
  const id = nextId++;
  steps.set(id, { what, undo });
  return async () => {
    const s = steps.get(id);
    if (!s) return;
    steps.delete(id);
    await s.undo();
  };
}

let running: Promise<void> | null = null;

/** Runs every registered step; a second caller waits for the cleanup already under way. */
export function cleanupAll(): Promise<void> {
  running ??= runAll().finally(() => (running = null));
  return running;
}

async function runAll(): Promise<void> {
  for (const id of [...steps.keys()].reverse()) {
    const s = steps.get(id);
    if (!s) continue;
    steps.delete(id);
    try {
      await s.undo();
    } catch (e) {
      process.stderr.write(
        `bench: cleanup of ${s.what} failed: ${e instanceof Error ? e.message : String(e)}\n`,
      );
    }
  }
}

export function installCleanupHandlers(): void {
  const handler = (signal: NodeJS.Signals): void => {
    if (!aborted.aborted) {
      process.stderr.write(`\nbench: ${signal}, stopping (again to force)\n`);
      controller.abort();
      return;
    }
    void cleanupAll().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  const crash = (e: unknown): void => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    void cleanupAll().finally(() => process.exit(1));
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
}
