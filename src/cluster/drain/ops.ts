// The operator's side of a drain (issue 16), on the cluster state directly: ask for one, take it
// back, and read where every member stands. The CLI (any machine with the state) and the admin
// API of any member use these same functions; the drained node acts on the rows (drainer.ts).
// Refusals are values with a kind, so each caller maps them to its exit code or HTTP status.
import type { ClusterState, MemberRecord } from "../state.js";
import {
  doneAt,
  doneKey,
  drainState,
  requestedAt,
  requestKey,
  requestValue,
  type DrainState,
} from "./keys.js";

export type DrainRefusal = {
  readonly error: string;
  /** unknown: no such member; refused: it cannot be drained now (no peer to take its queue). */
  readonly kind: "unknown" | "refused";
};

export interface DrainRow {
  readonly id: string;
  readonly role: string;
  readonly up: boolean;
  /** null: taking mail as usual. */
  readonly drain: DrainState | null;
  /** Messages in its queue at its last heartbeat. */
  readonly queue: number;
  readonly requestedAt: number | null;
  /** When it last said its queue was empty (drained), for the current request. */
  readonly drainedAt: number | null;
  readonly lastHeartbeat: number;
}

type DrainStateStore = Pick<ClusterState, "members" | "listSettings" | "setSetting">;

const settingsOf = async (state: DrainStateStore): Promise<Map<string, string>> =>
  new Map((await state.listSettings()).map((s) => [s.key, s.value]));

const isUp = (m: MemberRecord, now: number, downAfterMs: number): boolean =>
  !m.left && now - m.lastHeartbeat <= downAfterMs;

/** Every member that has not left, with its drain state. */
export async function drainRows(
  state: DrainStateStore,
  now: number,
  downAfterMs: number,
): Promise<DrainRow[]> {
  const [members, settings] = await Promise.all([state.members(), settingsOf(state)]);
  return members
    .filter((m) => !m.left || requestedAt(settings, m.id) !== null)
    .map((m) => {
      const at = requestedAt(settings, m.id);
      const drainedAt = at === null ? null : doneAt(settings, m.id, at);
      return {
        id: m.id,
        role: m.role,
        up: isUp(m, now, downAfterMs),
        drain: drainState(settings, m.id),
        // The node's answer is newer than a heartbeat before it: its queue was empty then.
        queue: drainedAt !== null && m.lastHeartbeat < drainedAt ? 0 : m.queueSize,
        requestedAt: at,
        drainedAt,
        lastHeartbeat: m.lastHeartbeat,
      };
    });
}

const unknown = (node: string): DrainRefusal => ({
  kind: "unknown",
  error: `node ${JSON.stringify(node)} is not a member of this cluster`,
});

/** `node`'s row as it stands after a change. */
async function rowAfter(
  state: DrainStateStore,
  node: string,
  now: number,
  downAfterMs: number,
): Promise<{ readonly row: DrainRow } | DrainRefusal> {
  const row = (await drainRows(state, now, downAfterMs)).find((r) => r.id === node);
  return row === undefined ? unknown(node) : { row };
}

/**
 * Ask `node` to drain: it stops taking mail and hands its queue to live peers of its role. A
 * node already draining keeps its request (and so its answer). Refused for a node the state does
 * not know, and when no other live member of its role could take its queue.
 */
export async function askDrain(
  state: DrainStateStore,
  node: string,
  now: number,
  downAfterMs: number,
): Promise<{ readonly row: DrainRow } | DrainRefusal> {
  const rows = await drainRows(state, now, downAfterMs);
  const target = rows.find((r) => r.id === node);
  if (target === undefined) return unknown(node);
  if (target.drain === null) {
    const peers = rows.filter((r) => r.id !== node && r.role === target.role && r.up && r.drain === null);
    if (peers.length === 0)
      return {
        kind: "refused",
        error: `no other live ${target.role} that is not draining could take ${node}'s queue; start one first`,
      };
    await state.setSetting(requestKey(node), requestValue(now));
  }
  return rowAfter(state, node, now, downAfterMs);
}

/** Take the drain back: `node` takes mail and delivers again (at once, or when it next starts). */
export async function askUndrain(
  state: DrainStateStore,
  node: string,
  now: number,
  downAfterMs: number,
): Promise<{ readonly row: DrainRow } | DrainRefusal> {
  const rows = await drainRows(state, now, downAfterMs);
  if (!rows.some((r) => r.id === node)) return unknown(node);
  await state.setSetting(requestKey(node), null);
  await state.setSetting(doneKey(node), null);
  return rowAfter(state, node, now, downAfterMs);
}
