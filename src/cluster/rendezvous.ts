// Rendezvous (highest random weight) hashing: every node gets a weight per key from a hash of
// (key, node) and the key goes to the heaviest. All members compute the same order from the
// same node set without talking to each other, and removing a node moves only the keys it was
// first for (everyone else's weights are unchanged). SHA-256 is overkill for speed but is in
// node:crypto, spreads well and is identical on every platform.
import { createHash } from "node:crypto";

function weight(key: string, node: string): bigint {
  // Length-prefix the key so ("ab", "c") and ("a", "bc") hash differently.
  const digest = createHash("sha256").update(`${key.length}:${key}\n${node}`).digest();
  return digest.readBigUInt64BE(0);
}

/** The node ids best first for this key; ties (vanishingly rare) fall back to id order. */
export function rendezvousOrder(key: string, nodeIds: readonly string[]): string[] {
  return [...new Set(nodeIds)]
    .map((id) => ({ id, w: weight(key, id) }))
    .sort((a, b) => (a.w === b.w ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.w > b.w ? -1 : 1))
    .map((x) => x.id);
}
