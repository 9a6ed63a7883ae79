// Option values as the operator types them: byte sizes ("50M"), flow limits ("100/3600"),
// and the words that mean "no limit". Parse errors are UsageErrors naming the option. No I/O.
import type { FlowLimit } from "../directory/directory.js";
import { UsageError } from "./io.js";

const UNLIMITED = new Set(["unlimited", "none", "off"]);
const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "1048576", "512K", "50M", "2G" (binary units); "unlimited"/"none" → null when allowed. */
export function parseBytes(option: string, text: string, allowNull: boolean): number | null {
  const t = text.trim().toLowerCase();
  if (allowNull && UNLIMITED.has(t)) return null;
  const m = /^(\d+)\s*([kmgt]?)(i?b)?$/.exec(t);
  const n = m ? Number(m[1]) * UNITS[m[2] ?? ""]! : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new UsageError(
      `--${option}: expected a size in bytes like 1048576 or 50M${allowNull ? ", or unlimited" : ""}, got "${text}"`,
    );
  }
  return n;
}

/** "N/SECONDS" (at most N messages in any SECONDS window); "unlimited"/"none" → null. */
export function parseFlow(option: string, text: string): FlowLimit | null {
  const t = text.trim().toLowerCase();
  if (UNLIMITED.has(t)) return null;
  const m = /^(\d+)\s*\/\s*(\d+)$/.exec(t);
  const messages = Number(m?.[1]);
  const periodSeconds = Number(m?.[2]);
  if (
    !m ||
    messages < 1 ||
    periodSeconds < 1 ||
    !Number.isSafeInteger(messages) ||
    !Number.isSafeInteger(periodSeconds)
  ) {
    throw new UsageError(`--${option}: expected MESSAGES/SECONDS like 100/3600, or unlimited, got "${text}"`);
  }
  return { messages, periodSeconds };
}

export const formatBytes = (n: number | null, none = "unlimited"): string => {
  if (n === null) return none;
  for (const [unit, size] of [
    ["G", 1024 ** 3],
    ["M", 1024 ** 2],
    ["K", 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return String(n);
};

export const formatFlow = (f: FlowLimit | null): string =>
  f === null ? "unlimited" : `${f.messages}/${f.periodSeconds}`;
