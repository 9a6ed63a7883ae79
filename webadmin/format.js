// How the pages write times and sizes: UTC "YYYY-MM-DD hh:mm:ss" (the node's log uses UTC too)
// and bytes in B or MB, null meaning no limit.

/** @param {number | null | undefined} ms */
export const time = (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "—");
/** @param {number | null | undefined} n */
export const bytes = (n) =>
  n === null || n === undefined ? "unlimited" : n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${n} B`;
