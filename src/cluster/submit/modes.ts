// The Submit Messages and Remote Submit Log settings (seed "Remote Queue Processing", DESIGN.md
// §3) as values: where they are kept, and how `default` resolves. No I/O.
//
// Each node has a setting (its config `cluster.submitMessages`, overridden live by the cluster
// setting `cluster.submitMessages@<node>`), and the cluster has a default (`cluster.submitMessages`
// in the cluster settings). A node's "default" takes the cluster default; a cluster default of
// "default" (or none) resolves as the seed says: not a dynamic-cluster member → Locally; dynamic
// frontend → Locally for Others; dynamic backend → Remotely when another live member is Locally
// for Others, else Locally. Remote Submit Log is kept the same way under `cluster.submitLog`.
import { SUBMIT_LOG_LEVELS, SUBMIT_MODES } from "../../config/settings.js";
import { LEVELS, type Level } from "../../log/logger.js";
import type { Role } from "../state.js";

export { SUBMIT_LOG_LEVELS, SUBMIT_MODES };
export type SubmitMode = (typeof SUBMIT_MODES)[number];
export type EffectiveMode = Exclude<SubmitMode, "default">;

export const isSubmitMode = (v: string): v is SubmitMode => (SUBMIT_MODES as readonly string[]).includes(v);

export type SubmitLogLevel = (typeof SUBMIT_LOG_LEVELS)[number];
export const isSubmitLogLevel = (v: string): v is SubmitLogLevel =>
  (SUBMIT_LOG_LEVELS as readonly string[]).includes(v);
export const submitLogLevel = (v: SubmitLogLevel): Level => (v === "none" ? LEVELS.crash : LEVELS[v]);

export const SUBMIT_MODE_KEY = "cluster.submitMessages";
export const SUBMIT_LOG_KEY = "cluster.submitLog";
/** The cluster-settings key of a node's own value (no node: the cluster default). */
export const settingKey = (base: string, node?: string): string =>
  node === undefined ? base : `${base}@${node}`;

export type ClusterKind = "static" | "dynamic";

/** What resolving a member's setting needs to know about it. */
export interface MemberSetting {
  readonly id: string;
  readonly role: Role;
  /** The member's own setting (override or config), possibly "default". */
  readonly mode: SubmitMode;
}

/**
 * A member's mode after `default` is resolved, except that a dynamic backend's depends on the
 * others: `othersOffer` says whether another live member is Locally for Others.
 */
export function resolveMode(
  m: MemberSetting,
  clusterDefault: SubmitMode,
  kind: ClusterKind,
  othersOffer: boolean,
): EffectiveMode {
  const mode = m.mode !== "default" ? m.mode : clusterDefault;
  if (mode !== "default") return mode;
  if (m.role === "single" || kind !== "dynamic") return "Locally";
  if (m.role === "frontend") return "Locally for Others";
  return othersOffer ? "Remotely" : "Locally";
}

/**
 * Whether a member takes remote submissions (is Locally for Others). Decided without looking at
 * the others: a dynamic backend's "default" is never Locally for Others.
 */
export const offersSubmit = (m: MemberSetting, clusterDefault: SubmitMode, kind: ClusterKind): boolean =>
  resolveMode(m, clusterDefault, kind, false) === "Locally for Others";

/** Reads a member's own setting from the cluster settings, falling back to what it registered. */
export function memberMode(
  settings: ReadonlyMap<string, string>,
  id: string,
  registered: string,
): SubmitMode {
  const v = settings.get(settingKey(SUBMIT_MODE_KEY, id)) ?? registered;
  return isSubmitMode(v) ? v : "default";
}

export function clusterDefaultMode(settings: ReadonlyMap<string, string>): SubmitMode {
  const v = settings.get(SUBMIT_MODE_KEY) ?? "default";
  return isSubmitMode(v) ? v : "default";
}

/** A member's Remote Submit Log: its own, else the cluster default, else `fallback` (its config). */
export function memberLog(
  settings: ReadonlyMap<string, string>,
  id: string,
  fallback: SubmitLogLevel,
): SubmitLogLevel {
  const own = settings.get(settingKey(SUBMIT_LOG_KEY, id));
  if (own !== undefined && isSubmitLogLevel(own)) return own;
  const all = settings.get(SUBMIT_LOG_KEY);
  return all !== undefined && isSubmitLogLevel(all) ? all : fallback;
}
