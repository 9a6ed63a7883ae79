// Checks on the arguments of every ClusterState adapter. Arguments come from our own code, so a
// bad one is a bug, reported loudly (TypeError, as a rejection); both adapters refuse the same.
import { accountKey, ROLES, type MemberInfo, type SpoolTakeover } from "./state.js";

const MAX_TEXT = 1024;

export function text(name: string, v: unknown): string {
  if (typeof v !== "string" || v.length === 0 || v.length > MAX_TEXT) {
    throw new TypeError(`${name} must be a non-empty string of at most ${MAX_TEXT} characters`);
  }
  return v;
}

export function time(name: string, v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new TypeError(`${name} must be a time in ms`);
  return v as number;
}

export function ttl(v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) <= 0) throw new TypeError("ttlMs must be a positive integer");
  return v as number;
}

export const account = (address: unknown): string => accountKey(text("address", address));

export function count(name: string, v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw new TypeError(`${name} must be >= 0`);
  return v as number;
}

export function settingValue(v: unknown): string | null {
  if (v !== null && typeof v !== "string") throw new TypeError("setting value must be a string or null");
  return v;
}

/** A member as it is stored: every field checked. */
export function member(m: MemberInfo): MemberInfo & { readonly submissions: string } {
  if (!ROLES.includes(m.role)) throw new TypeError(`role must be one of ${ROLES.join(", ")}`);
  return {
    id: text("id", m.id),
    role: m.role,
    smtp: text("smtp", m.smtp),
    submissions:
      m.submissions === undefined || m.submissions === "" ? "" : text("submissions", m.submissions),
    http: text("http", m.http),
    channel: m.channel === null ? null : text("channel", m.channel),
    submitMessages: text("submitMessages", m.submitMessages),
    startedAt: time("startedAt", m.startedAt),
  };
}

/** Queue ids recorded with a take-over: each one a short token, as the queue makes them. */
export function queueIds(v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && /^[0-9A-Z]{8,40}$/.test(x)))
    throw new TypeError("promoted must be a list of queue ids");
  return v as string[];
}

/** A take-over row's ids as stored (JSON); a row that is not ours reads as none. */
export function storedIds(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

/** takeSpool's arguments, checked: node, by, expected token, promoted ids, now. */
export const spoolArgs = (
  node: unknown,
  by: unknown,
  expected: unknown,
  promoted: unknown,
  now: unknown,
): [string, string, number, string[], number] => [
  text("node", node),
  text("by", by),
  count("expected", expected),
  queueIds(promoted),
  time("now", now),
];

/** A take-over as both adapters store it (cluster_spool_takeovers). */
export interface TakeoverRow {
  readonly node: string;
  readonly token: number;
  readonly by_node: string;
  readonly at: number;
  readonly ids: string;
}

export const toTakeover = (r: TakeoverRow): SpoolTakeover => ({
  node: r.node,
  token: r.token,
  by: r.by_node,
  at: r.at,
  ids: storedIds(r.ids),
});
