// Randomness as a dependency (queue ids, session ids, retry jitter), so tests are repeatable.
import { randomBytes, randomInt } from "node:crypto";

export interface Random {
  /** An integer in [0, max). */
  int(max: number): number;
  bytes(n: number): Buffer;
}

export const cryptoRandom: Random = {
  int: (max) => randomInt(max),
  bytes: (n) => randomBytes(n),
};
