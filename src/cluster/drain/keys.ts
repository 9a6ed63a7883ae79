// Where a drain is kept (issue 16): two rows of the cluster settings table, so every member and
// the CLI on any machine see it, a drained node that restarts stays drained, and no schema change
// is needed (the table already notifies every member of a change). No I/O here.
//
//   drain:request@<node>  {"at": ms}                the operator asked; removed by an undrain
//   drain:done@<node>     {"request": ms, "at": ms}  the node's answer: its queue was empty then,
//                                                    for the request made at `request`
//
// A stale answer (to an earlier request) never counts, so drain, undrain, drain waits again.

const REQUEST = "drain:request@";
const DONE = "drain:done@";

export const requestKey = (node: string): string => `${REQUEST}${node}`;
export const doneKey = (node: string): string => `${DONE}${node}`;

export type DrainState = "draining" | "drained";

const num = (v: unknown): number | null => (typeof v === "number" && Number.isSafeInteger(v) ? v : null);

function parse(text: string | undefined | null): Record<string, unknown> | null {
  if (text === undefined || text === null) return null;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** When the drain of `node` was asked for, or null when it is not draining. */
export function requestedAt(settings: ReadonlyMap<string, string>, node: string): number | null {
  return num(parse(settings.get(requestKey(node)))?.["at"]);
}

/** The node's answer to the request made at `request`: when its queue was found empty, or null. */
export function doneAt(settings: ReadonlyMap<string, string>, node: string, request: number): number | null {
  const v = parse(settings.get(doneKey(node)));
  return v !== null && num(v["request"]) === request ? num(v["at"]) : null;
}

/** draining, drained (the node said its queue is empty for this request), or null (not asked). */
export function drainState(settings: ReadonlyMap<string, string>, node: string): DrainState | null {
  const at = requestedAt(settings, node);
  if (at === null) return null;
  return doneAt(settings, node, at) === null ? "draining" : "drained";
}

export const requestValue = (at: number): string => JSON.stringify({ at });
export const doneValue = (request: number, at: number): string => JSON.stringify({ request, at });
