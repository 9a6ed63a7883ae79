// What both directory adapters share about accounts: the row shape (SQLite stores enabled as
// 0/1, PostgreSQL as a boolean), the settings defaults, the validation of operator input, and the
// limits on passwords, alias targets and how long flow events are kept. One place, so the two
// stores accept and refuse exactly the same things.
import { createHash } from "node:crypto";
import { DirectoryError, type Account, type AccountSettings, type FlowLimit } from "./directory.js";

export const MAX_ALIAS_TARGETS = 1000;
export const MAX_PASSWORD = 1024;
// Flow events are kept at least this long, longer when an account's window is longer.
export const MIN_FLOW_RETENTION_MS = 86_400_000;
// A full sweep of old flow events every this many recordFlow calls (per process).
export const SWEEP_EVERY = 1000;

export interface AccountRow {
  address: string;
  local_part: string;
  domain: string;
  password_hash: string;
  enabled: number | boolean;
  quota_bytes: number | null;
  max_message_size: number | null;
  out_flow_messages: number | null;
  out_flow_period: number | null;
  in_flow_messages: number | null;
  in_flow_period: number | null;
  used_bytes: number;
  created_at: number;
}

const flow = (messages: number | null, period: number | null): FlowLimit | null =>
  messages === null || period === null ? null : { messages, periodSeconds: period };

export const toAccount = (r: AccountRow): Account => ({
  address: r.address,
  localPart: r.local_part,
  domain: r.domain,
  enabled: r.enabled !== 0 && r.enabled !== false,
  quotaBytes: r.quota_bytes,
  maxMessageSize: r.max_message_size,
  outFlow: flow(r.out_flow_messages, r.out_flow_period),
  inFlow: flow(r.in_flow_messages, r.in_flow_period),
  usedBytes: r.used_bytes,
  createdAt: r.created_at,
});

/**
 * What a cache of password checks is keyed on (Directory.credentialStamp): a digest of the stored
 * hash (its salt is new at every password change, even to the same password), the enabled flag
 * and the creation time (a removed and re-added account is another one). Never the hash itself.
 */
export const credentialStamp = (r: AccountRow): string =>
  createHash("sha256")
    .update(`${r.password_hash}\0${r.enabled !== 0 && r.enabled !== false}\0${r.created_at}`)
    .digest("base64url");

export const DEFAULT_SETTINGS: AccountSettings = {
  enabled: true,
  quotaBytes: null,
  maxMessageSize: null,
  outFlow: null,
  inFlow: null,
};

export function checkSettings(s: AccountSettings): void {
  const bytes = (name: string, v: number | null) => {
    if (v !== null && !(Number.isSafeInteger(v) && v >= 0)) {
      throw new DirectoryError("invalid", `${name} must be a non-negative integer (bytes) or null`);
    }
  };
  bytes("quotaBytes", s.quotaBytes);
  bytes("maxMessageSize", s.maxMessageSize);
  for (const [name, f] of [
    ["outFlow", s.outFlow],
    ["inFlow", s.inFlow],
  ] as const) {
    if (f === null) continue;
    if (!(
      Number.isSafeInteger(f.messages) &&
      f.messages >= 0 &&
      Number.isSafeInteger(f.periodSeconds) &&
      f.periodSeconds > 0
    )) {
      throw new DirectoryError("invalid", `${name} needs messages >= 0 and periodSeconds > 0 (integers)`);
    }
  }
  if (typeof s.enabled !== "boolean") throw new DirectoryError("invalid", "enabled must be true or false");
}

export function checkPassword(p: string): void {
  if (typeof p !== "string" || p.length === 0 || p.length > MAX_PASSWORD) {
    throw new DirectoryError("invalid", `password must be 1 to ${MAX_PASSWORD} characters`);
  }
}

/** Overlay the keys present in patch (exactOptionalPropertyTypes: absent means unchanged). */
export function merge(base: AccountSettings, patch: Partial<AccountSettings>): AccountSettings {
  return {
    enabled: patch.enabled ?? base.enabled,
    quotaBytes: patch.quotaBytes !== undefined ? patch.quotaBytes : base.quotaBytes,
    maxMessageSize: patch.maxMessageSize !== undefined ? patch.maxMessageSize : base.maxMessageSize,
    outFlow: patch.outFlow !== undefined ? patch.outFlow : base.outFlow,
    inFlow: patch.inFlow !== undefined ? patch.inFlow : base.inFlow,
  };
}

/** The settings as the columns of an account row (enabled as the adapter stores it). */
export const settingsColumns = (s: AccountSettings) => ({
  quota_bytes: s.quotaBytes,
  max_message_size: s.maxMessageSize,
  out_flow_messages: s.outFlow?.messages ?? null,
  out_flow_period: s.outFlow?.periodSeconds ?? null,
  in_flow_messages: s.inFlow?.messages ?? null,
  in_flow_period: s.inFlow?.periodSeconds ?? null,
});

/** Alias targets as stored: validated, lower-cased, duplicates dropped, order kept. */
export function aliasTargets(
  address: string,
  targets: readonly string[],
  parse: (t: string) => string,
): string[] {
  if (targets.length === 0) throw new DirectoryError("invalid", `alias ${address} needs at least one target`);
  if (targets.length > MAX_ALIAS_TARGETS)
    throw new DirectoryError("invalid", `alias ${address} has more than ${MAX_ALIAS_TARGETS} targets`);
  return [...new Set(targets.map(parse))];
}
