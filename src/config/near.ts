// Near matches for a mistyped name (setting keys, environment names): edit distance, small
// lists only. No I/O.

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** Up to `max` candidates close to `name` (case-insensitive), closest first. */
export function nearMatches(name: string, candidates: readonly string[], max = 3): string[] {
  const lower = name.toLowerCase();
  const last = lower.split(/[._]/).pop() ?? lower;
  return candidates
    .map((c) => {
      const cl = c.toLowerCase();
      // A right leaf in the wrong section ("queue.maxMessageSize") is a near match too.
      const leaf = cl.split(/[._]/).pop() ?? cl;
      const d = Math.min(distance(lower, cl), leaf === last ? 1 : Infinity);
      return { c, d };
    })
    .filter((x) => x.d <= Math.max(2, Math.floor(lower.length / 4)))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, max)
    .map((x) => x.c);
}
