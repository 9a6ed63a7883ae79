// Matching for the seed's operators: "pictures" where * matches any run of characters (and
// nothing else is special), compared without regard to case; "in" takes a comma list of
// pictures; greater/less than compare sizes, dates and times of day.

export function pictureMatch(picture: string, text: string): boolean {
  const p = picture.toLowerCase();
  const t = text.toLowerCase();
  const parts = p.split("*");
  if (parts.length === 1) return p === t;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!t.startsWith(first) || t.length < first.length + last.length || !t.endsWith(last)) return false;
  let pos = first.length;
  const stop = t.length - last.length;
  for (const mid of parts.slice(1, -1)) {
    if (mid === "") continue;
    const at = t.indexOf(mid, pos);
    if (at < 0 || at + mid.length > stop) return false;
    pos = at + mid.length;
  }
  return true;
}

/** The pictures of an "in" parameter: comma separated, blanks around each trimmed. */
export function pictureList(param: string): string[] {
  return param
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

export function matchesOp(op: "is" | "is not" | "in" | "not in", param: string, text: string): boolean {
  switch (op) {
    case "is":
      return pictureMatch(param, text);
    case "is not":
      return !pictureMatch(param, text);
    case "in":
      return pictureList(param).some((p) => pictureMatch(p, text));
    case "not in":
      return !pictureList(param).some((p) => pictureMatch(p, text));
  }
}

/** "1000", "10K", "2M" (binary multiples, as the seed's size settings). */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+)\s*([kKmMgG]?)\s*$/.exec(text);
  if (!m) return null;
  const mult = { "": 1, k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 }[m[2]!.toLowerCase()] ?? 1;
  return Number(m[1]) * mult;
}

/** "HH:MM" or "HH:MM:SS" → seconds since midnight. */
export function parseTimeOfDay(text: string): number | null {
  const m = /^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$/.exec(text);
  if (!m) return null;
  const h = Number(m[1]);
  const mi = Number(m[2]);
  const s = Number(m[3] ?? 0);
  if (h > 23 || mi > 59 || s > 59) return null;
  return h * 3600 + mi * 60 + s;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/**
 * A date (optionally with a time) → ms since the epoch in the given zone: "2026-12-01",
 * "2026-12-01 10:30", "1 Dec 2026", "01 Dec 2026 10:30:00". null when not a date.
 */
export function parseDate(text: string, zoneOffset: number): number | null {
  const t = text.trim();
  let y: number, mo: number, d: number, rest: string;
  let m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](.*))?$/.exec(t);
  if (m) {
    [y, mo, d, rest] = [Number(m[1]), Number(m[2]) - 1, Number(m[3]), m[4] ?? ""];
  } else {
    m = /^(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{4})(?:\s+(.*))?$/.exec(t);
    if (!m) return null;
    mo = MONTHS.indexOf(m[2]!.toLowerCase());
    if (mo < 0) return null;
    [y, d, rest] = [Number(m[3]), Number(m[1]), m[4] ?? ""];
  }
  const secs = rest.trim() === "" ? 0 : parseTimeOfDay(rest);
  if (secs === null || d < 1 || d > 31 || mo < 0 || mo > 11) return null;
  return Date.UTC(y, mo, d) + secs * 1000 - zoneOffset * 60_000;
}

export const DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/** True when a day picture ("Mon", "monday", "Sat*") names the day with index `day`. */
export function dayMatches(picture: string, day: number): boolean {
  const name = DAY_NAMES[day]!;
  const p = picture.trim().toLowerCase();
  if (p.includes("*")) return pictureMatch(p, name);
  return p.length >= 3 && name.startsWith(p);
}
