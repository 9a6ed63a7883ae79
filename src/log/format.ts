// One log record as one text line:
//   HH:MM:SS.mmm <level digit> <TAG>-<6-digit session id>(<context>) <text>[ key=value ...]
// No I/O. Field values and context may carry untrusted data (peer names, addresses, replies):
// control characters are escaped so a record can never span lines or forge another record.
import type { Fields, Level, Tag } from "./logger.js";

export interface LogRecord {
  readonly at: number;
  readonly level: Level;
  readonly tag: Tag;
  readonly session: number;
  readonly context: string;
  readonly text: string;
  readonly fields: Fields;
}

const pad = (n: number, width: number): string => String(n).padStart(width, "0");

/** UTC wall time of a record, HH:MM:SS.mmm. */
export function formatTime(at: number): string {
  const d = new Date(at);
  return `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** UTC date of a record, YYYY-MM-DD: names the day's log file. */
export function formatDate(at: number): string {
  const d = new Date(at);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

/** Newlines, other control characters and backslashes escaped; the rest kept as is. */
export function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\\\x00-\x1f\x7f]/g, (c) => {
    switch (c) {
      case "\\":
        return "\\\\";
      case "\n":
        return "\\n";
      case "\r":
        return "\\r";
      case "\t":
        return "\\t";
      default:
        return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
    }
  });
}

/** A field value as written after "key=": quoted when it would otherwise be ambiguous. */
export function formatValue(value: string | number | boolean | null): string {
  if (value === null) return '""';
  if (typeof value !== "string") return String(value);
  const escaped = escapeControls(value);
  if (escaped === "" || /[\s"=]/.test(escaped)) return `"${escaped.replace(/"/g, '\\"')}"`;
  return escaped;
}

export function formatRecord(r: LogRecord): string {
  const session = pad(Math.abs(Math.trunc(r.session)) % 1_000_000, 6);
  let line = `${formatTime(r.at)} ${r.level} ${r.tag}-${session}(${escapeControls(r.context)}) ${escapeControls(r.text)}`;
  for (const [key, value] of Object.entries(r.fields)) {
    if (value === undefined) continue;
    line += ` ${escapeControls(key)}=${formatValue(value)}`;
  }
  return line;
}
