// Reads a node's shadow directory the way its store does at start (segments in order, adds,
// drops and resets replayed), without opening the store: what is on disk is the proof that a
// copy was durable, whatever the node keeps in memory.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeRecords } from "../../src/cluster/shadow/records.js";

/** Ids whose copy `holderDir` (a data directory) keeps for `origin`, and every id ever added. */
export async function shadowsOnDisk(
  holderDir: string,
  origin: string,
): Promise<{ live: Set<string>; added: Set<string>; states: Map<string, unknown> }> {
  const dir = join(holderDir, "shadows", origin);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".seg")).sort();
  const live = new Set<string>();
  const added = new Set<string>();
  const states = new Map<string, unknown>();
  for (const n of names) {
    const decoded = decodeRecords(await readFile(join(dir, n)));
    if (typeof decoded === "string") throw new Error(`${n}: ${decoded}`);
    for (const r of decoded.records) {
      if (r.kind === "add") {
        live.add(r.id);
        added.add(r.id);
      } else if (r.kind === "state") states.set(r.id, JSON.parse(r.data.toString("utf8")));
      else if (r.kind === "drop") live.delete(r.id);
      else live.clear();
    }
  }
  return { live, added, states };
}

/** The queue id in a "250 2.0.0 OK queued as <id>" reply. */
export const queuedId = (text: string): string => {
  const m = /queued as (\S+)/.exec(text);
  if (m === null) throw new Error(`not a queued reply: ${text}`);
  return m[1]!;
};
