// Managed settings: the keys an administrator may change from the WebAdmin or `mailyard
// settings set` instead of the config file, kept in the cluster state's settings table (so every
// member sharing the state sees them) as JSON under `config:<key>` (cluster-wide) and
// `config:<key>@<node>` (one node, over the cluster-wide value). They sit between the config file
// and the environment: an environment variable or --set given to a node still wins, and the node
// says so. Each key either applies live (its readers look it up at use) or at the node's next
// restart (it shapes listeners or wiring made at start). No I/O here.
import { ConfigError } from "./load.js";
import { settingKey } from "./keys.js";
import { settingsSchema, type Settings } from "./settings.js";

export type Applies = "live" | "restart";

/** What the Mail page manages, and when each change takes effect. */
export const MANAGED_KEYS: Readonly<Record<string, Applies>> = {
  "smtp.listen": "restart",
  "submission.listen": "restart",
  "submissions.listen": "restart",
  "smtp.forwardTo": "restart",
  "smtp.relayNetworks": "live",
  // Restart: a backend sizes its delivery channel's limit from it at start.
  "smtp.maxMessageSize": "restart",
  "smtp.maxRecipients": "live",
  "smtp.maxConnections": "live",
  "smtp.maxConnectionsPerIp": "live",
  "smtp.maxErrors": "live",
  "smtp.idleTimeoutSeconds": "live",
  "smtp.overQuota": "live",
  // Read at each message's end of data (src/inbound/authentication.ts).
  "smtp.authChecks": "live",
  "smtp.dmarcPolicy": "live",
  "smtp.spfFail": "live",
  "queue.firstRetrySeconds": "live",
  "queue.maxRetrySeconds": "live",
  "queue.delayWarningSeconds": "live",
  "queue.maxLifetimeSeconds": "live",
  "queue.maxConcurrency": "live",
  "queue.maxPerDestination": "live",
  "local.deliverOnReceipt": "restart",
};

export const isManagedKey = (key: string): boolean => Object.hasOwn(MANAGED_KEYS, key);

export type ValueSource = "config" | "cluster" | "node" | "environment or --set";

export interface ManagedEntry {
  readonly key: string;
  readonly applies: Applies;
  /** In effect on this node now. */
  readonly value: unknown;
  readonly source: ValueSource;
  /** Stored cluster-wide, and for this node (null: none). */
  readonly cluster: unknown;
  readonly node: unknown;
  /** A stored change this node will apply only at its next restart. */
  readonly pending: boolean;
}

const PREFIX = "config:";

/** The settings-table key of a managed value (no node: cluster-wide). */
export const storedKey = (key: string, node?: string): string =>
  node === undefined ? `${PREFIX}${key}` : `${PREFIX}${key}@${node}`;

export type Scope = "cluster" | "node";

export interface StoredValue {
  readonly key: string;
  readonly scope: Scope;
  /** The node a node-scoped value is for. */
  readonly node: string | null;
  readonly value: unknown;
}

/** The managed values in a settings table (any node's), skipping rows that are not JSON. */
export function storedValues(rows: ReadonlyMap<string, string>): StoredValue[] {
  const out: StoredValue[] = [];
  for (const [k, text] of rows) {
    if (!k.startsWith(PREFIX)) continue;
    const rest = k.slice(PREFIX.length);
    const at = rest.indexOf("@");
    const key = at < 0 ? rest : rest.slice(0, at);
    if (!isManagedKey(key)) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue;
    }
    out.push(
      at < 0
        ? { key, scope: "cluster", node: null, value }
        : { key, scope: "node", node: rest.slice(at + 1), value },
    );
  }
  return out;
}

/** What applies to one node: its own value over the cluster-wide one, with where it came from. */
export function overlayFor(
  rows: ReadonlyMap<string, string>,
  node: string,
): Map<string, { value: unknown; scope: Scope }> {
  const out = new Map<string, { value: unknown; scope: Scope }>();
  const stored = storedValues(rows);
  for (const s of stored) if (s.scope === "cluster") out.set(s.key, { value: s.value, scope: "cluster" });
  for (const s of stored)
    if (s.scope === "node" && s.node === node) out.set(s.key, { value: s.value, scope: "node" });
  return out;
}

function setPath(tree: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

export function getPath(settings: Settings, key: string): unknown {
  let node: unknown = settings;
  for (const part of key.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
  return node;
}

/**
 * The value checked as the schema checks it (type, range), or a ConfigError saying what is
 * wrong; keys that are not managed are refused.
 */
export function checkManagedValue(key: string, value: unknown): unknown {
  if (!isManagedKey(key))
    throw new ConfigError(
      `${key} is not a setting managed here (managed: ${Object.keys(MANAGED_KEYS).join(", ")}); set it in the node's config`,
    );
  if (settingKey(key) === undefined) throw new ConfigError(`unknown setting ${key}`);
  const tree: Record<string, unknown> = {};
  setPath(tree, key, value);
  const parsed = settingsSchema.safeParse(tree);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`invalid value for ${key}: ${issue.message}`);
  }
  return getPath(parsed.data, key);
}

/**
 * `base` with the stored values laid over it, checked by the schema. Keys named in `pinned`
 * (given to the node by environment or --set) keep their base value.
 */
export function withStored(
  base: Settings,
  overlay: ReadonlyMap<string, { value: unknown }>,
  pinned: ReadonlySet<string> = new Set(),
): Settings {
  const tree = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [key, { value }] of overlay) if (!pinned.has(key)) setPath(tree, key, value);
  const parsed = settingsSchema.safeParse(tree);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.map(String).join(".");
    throw new ConfigError(
      `stored setting ${path} is invalid: ${issue.message} (remove it: mailyard settings unset ${path} [--node ID])`,
    );
  }
  return parsed.data;
}
