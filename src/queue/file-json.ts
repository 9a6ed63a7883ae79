// The JSON inside the spool's files (the envelope of a queue file, state/<id>.json): ours, but
// possibly damaged (crash, disk, operator), so read as an object or refused with a reason.

export const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The JSON object in `raw`, or why it is none (`what` names it: "envelope", "state"). */
export function jsonObject(raw: Buffer, what: string): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(raw.toString("utf8"));
  } catch {
    return `${what} is not JSON`;
  }
  return isObj(v) ? v : `${what} is not an object`;
}
