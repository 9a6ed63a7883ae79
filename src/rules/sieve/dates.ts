// Dates for the date / currentdate tests (RFC 5260): an RFC 5322 date parsed with its zone,
// and the date parts of a moment shown in a zone. Pure; "now" comes from the message view.

export interface ZonedTime {
  /** ms since the epoch */
  readonly ms: number;
  /** minutes east of UTC */
  readonly zone: number;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const ZONES: Readonly<Record<string, number>> = {
  ut: 0,
  gmt: 0,
  z: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
};

/**
 * Each "(…)" comment as a space, as value.replace(/\([^)]*\)/g, " ") does, in linear time (that
 * expression retries at every "(", quadratic in a Date: field full of them).
 */
export function withoutComments(value: string): string {
  let out = "";
  let from = 0;
  for (;;) {
    const open = value.indexOf("(", from);
    const close = open < 0 ? -1 : value.indexOf(")", open + 1);
    if (close < 0) return out + value.slice(from);
    out += value.slice(from, open) + " ";
    from = close + 1;
  }
}

/** Parses "[Day,] DD Mon YYYY HH:MM[:SS] zone" (RFC 5322 §3.3, obsolete forms too). */
export function parseRfc5322Date(value: string): ZonedTime | null {
  const v = withoutComments(value).trim();
  const m =
    /^(?:[A-Za-z]{3},?\s*)?(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]+)?/.exec(
      v,
    );
  if (!m) return null;
  const mon = MONTHS.indexOf(m[2]!.toLowerCase());
  if (mon < 0) return null;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const z = m[7] ?? "+0000";
  let zone: number;
  if (/^[+-]\d{4}$/.test(z)) {
    zone = (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5))) * (z.startsWith("-") ? -1 : 1);
  } else zone = ZONES[z.toLowerCase()] ?? 0;
  const day = Number(m[1]);
  const [h, mi, s] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  if (day < 1 || day > 31 || h > 23 || mi > 59 || s > 60) return null;
  return { ms: Date.UTC(year, mon, day, h, mi, s) - zone * 60_000, zone };
}

/** "+0100" / "-0530" → minutes; null when malformed. */
export function parseZone(z: string): number | null {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(z);
  if (!m) return null;
  return (Number(m[2]) * 60 + Number(m[3])) * (m[1] === "-" ? -1 : 1);
}

const two = (n: number): string => String(n).padStart(2, "0");

export function formatZone(zone: number): string {
  const a = Math.abs(zone);
  return (zone < 0 ? "-" : "+") + two(Math.floor(a / 60)) + two(a % 60);
}

/** The named date part of a moment in its zone (RFC 5260 §4.2). */
export function datePart(t: ZonedTime, part: string): string | null {
  const d = new Date(t.ms + t.zone * 60_000);
  const Y = String(d.getUTCFullYear()).padStart(4, "0");
  const M = two(d.getUTCMonth() + 1);
  const D = two(d.getUTCDate());
  const h = two(d.getUTCHours());
  const mi = two(d.getUTCMinutes());
  const s = two(d.getUTCSeconds());
  const z = formatZone(t.zone);
  switch (part) {
    case "year":
      return Y;
    case "month":
      return M;
    case "day":
      return D;
    case "date":
      return `${Y}-${M}-${D}`;
    case "julian":
      // Modified Julian Day: days since 1858-11-17
      return String(
        Math.floor(
          (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(1858, 10, 17)) /
            86_400_000,
        ),
      );
    case "hour":
      return h;
    case "minute":
      return mi;
    case "second":
      return s;
    case "time":
      return `${h}:${mi}:${s}`;
    case "iso8601":
      return `${Y}-${M}-${D}T${h}:${mi}:${s}${z.slice(0, 3)}:${z.slice(3)}`;
    case "std11":
      return `${DAYS[d.getUTCDay()]!}, ${D} ${MONTHS[d.getUTCMonth()]!.replace(/^./, (c) => c.toUpperCase())} ${Y} ${h}:${mi}:${s} ${z}`;
    case "zone":
      return z;
    case "weekday":
      return String(d.getUTCDay());
    default:
      return null;
  }
}
