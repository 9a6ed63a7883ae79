// Runs Sieve ":regex" matches off the event loop, in one worker thread per process
// (regex-worker.ts), one request at a time. A request that has not answered within
// REGEX_DEADLINE_MS ends the thread (a new one starts for the next request) and fails with
// RegexTimeout, which the interpreter turns into the implicit keep plus a log line. The deadline
// is wall-clock on purpose: it bounds the CPU a runaway pattern can burn, it schedules nothing.
import { Worker } from "node:worker_threads";
import type { RegexAnswer, RegexRequest } from "./regex-worker.js";

export const REGEX_DEADLINE_MS = 1000;

export class RegexTimeout extends Error {
  constructor() {
    super(`regular expression ran longer than ${REGEX_DEADLINE_MS} ms`);
    this.name = "RegexTimeout";
  }
}

let worker: Worker | null = null;
let chain: Promise<unknown> = Promise.resolve();

function start(): Worker {
  const w = new Worker(new URL("./regex-worker.js", import.meta.url));
  // An idle worker never keeps the process alive; a request in flight refs it (below).
  w.unref();
  w.on("error", () => undefined);
  w.on("exit", () => {
    if (worker === w) worker = null;
  });
  return w;
}

function once(q: RegexRequest): Promise<RegexAnswer> {
  const w = (worker ??= start());
  return new Promise<RegexAnswer>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      w.off("message", onMessage);
      w.off("exit", onExit);
      w.unref();
    };
    const onMessage = (a: RegexAnswer): void => {
      done();
      resolve(a);
    };
    const onExit = (): void => {
      done();
      reject(new RegexTimeout());
    };
    const timer = setTimeout(() => {
      if (worker === w) worker = null;
      void w.terminate();
    }, REGEX_DEADLINE_MS);
    w.ref();
    w.on("message", onMessage);
    w.on("exit", onExit);
    w.postMessage(q);
  });
}

/** The answer of the worker for this request; RegexTimeout past the deadline. */
export function execRegex(q: RegexRequest): Promise<RegexAnswer> {
  const next = chain.then(
    () => once(q),
    () => once(q),
  );
  chain = next.catch(() => undefined);
  return next;
}
