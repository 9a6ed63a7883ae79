// The thread that runs Sieve ":regex" (regex-runner.ts sends the work). A pattern comes from a
// user's script and the text from anyone on the Internet, and JavaScript's backtracking RegExp
// can take exponential time on both ("(a+)+b"); here that only costs this thread, which the
// runner ends at its deadline, and never the node's event loop. Answers: the captures of the
// first value that matches, null when none does, or the compile error.
import { parentPort } from "node:worker_threads";

export interface RegexRequest {
  readonly pattern: string;
  readonly flags: string;
  readonly values: readonly string[];
}

export type RegexAnswer = { readonly captures: string[] | null } | { readonly error: string };

const cache = new Map<string, RegExp>();

function regexFor(pattern: string, flags: string): RegExp {
  const key = flags + "\0" + pattern;
  let r = cache.get(key);
  if (r === undefined) {
    r = new RegExp(pattern, flags);
    if (cache.size > 256) cache.clear();
    cache.set(key, r);
  }
  return r;
}

export function runRegex(q: RegexRequest): RegexAnswer {
  let r: RegExp;
  try {
    r = regexFor(q.pattern, q.flags);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
  for (const v of q.values) {
    const m = r.exec(v);
    if (m) return { captures: m.map((x) => x ?? "") };
  }
  return { captures: null };
}

parentPort?.on("message", (q: RegexRequest) => parentPort?.postMessage(runRegex(q)));
