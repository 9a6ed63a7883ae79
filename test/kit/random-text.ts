// Seeded random texts for the tests that compare a linear scanner with the expression or
// reader it replaced: the same seed gives the same texts on every run and machine.

/** A small LCG in [0, 1): the same sequence for the same seed. */
export function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
}

/** Up to `maxPieces - 1` pieces drawn from `pieces` with `rnd`: the length first, then each piece. */
export function randomText(rnd: () => number, pieces: readonly string[], maxPieces: number): string {
  return Array.from(
    { length: Math.floor(rnd() * maxPieces) },
    () => pieces[Math.floor(rnd() * pieces.length)]!,
  ).join("");
}
