// A node's managed settings at run time (src/config/managed.ts): made at start from the settings
// table, laid over what the node loaded, and kept up to date as the table changes. Live keys are
// written into the node's own settings object, which their readers consult at use; keys that
// apply at restart are reported as pending until the node restarts with them.
import { ConfigError } from "../config/load.js";
import {
  getPath,
  MANAGED_KEYS,
  overlayFor,
  storedKey,
  storedValues,
  withStored,
  type ManagedEntry,
  type ValueSource,
} from "../config/managed.js";
import type { Settings } from "../config/settings.js";
import type { ConfigWriter } from "../admin/config-routes.js";
import type { ClusterState } from "../cluster/state.js";
import type { Log } from "../log/logger.js";

export interface ManagedSettings {
  /** The settings the node runs with: the loaded ones with the stored values laid over. */
  readonly settings: Settings;
  entries(): ManagedEntry[];
  /** The settings table changed: apply the live keys, note the others. */
  update(rows: ReadonlyMap<string, string>): void;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function setLeaf(settings: Settings, key: string, value: unknown): void {
  const parts = key.split(".");
  let node = settings as unknown as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>;
  node[parts[parts.length - 1]!] = structuredClone(value);
}

/**
 * `loaded` is what config file, environment and --set gave; `pinned` the keys environment or
 * --set gave (they win over stored values). Throws ConfigError at start when a stored value does
 * not fit, naming the key to remove; later bad rows are logged and left unapplied.
 */
export function createManagedSettings(o: {
  loaded: Settings;
  pinned: ReadonlySet<string>;
  nodeId: string;
  rows: ReadonlyMap<string, string>;
  log: Log;
}): ManagedSettings {
  let rows = o.rows;
  const running = withStored(o.loaded, overlayFor(rows, o.nodeId), o.pinned);
  // What the stored values say now, restart keys included (running lags for those).
  let wanted = running;

  return {
    settings: running,
    entries() {
      const overlay = overlayFor(rows, o.nodeId);
      const stored = storedValues(rows);
      return Object.entries(MANAGED_KEYS).map(([key, applies]) => {
        const mine = stored.find((s) => s.key === key && s.scope === "node" && s.node === o.nodeId);
        const all = stored.find((s) => s.key === key && s.scope === "cluster");
        const source: ValueSource = o.pinned.has(key)
          ? "environment or --set"
          : (overlay.get(key)?.scope ?? "config");
        return {
          key,
          applies,
          value: getPath(running, key),
          source,
          cluster: all?.value ?? null,
          node: mine?.value ?? null,
          pending: !same(getPath(running, key), getPath(wanted, key)),
        };
      });
    },
    update(next) {
      let candidate: Settings;
      try {
        candidate = withStored(o.loaded, overlayFor(next, o.nodeId), o.pinned);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        o.log.problem("stored settings not applied", { error: e.message });
        return;
      }
      rows = next;
      for (const [key, applies] of Object.entries(MANAGED_KEYS)) {
        const value = getPath(candidate, key);
        if (same(value, getPath(wanted, key))) continue;
        if (applies === "live") {
          setLeaf(running, key, value);
          o.log.major("setting applied", { key, value: JSON.stringify(value) });
        } else {
          o.log.major("setting stored, applies at restart", { key, value: JSON.stringify(value) });
        }
      }
      wanted = candidate;
    },
  };
}

export interface LiveManagedSettings extends ManagedSettings {
  /** Re-read the table now (after this node wrote it) and apply. */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * The managed settings of a node on the shared state: read once before the node is wired (so
 * restart keys count from the start), then followed through the state's change notifications.
 */
export async function openManagedSettings(o: {
  loaded: Settings;
  pinned: ReadonlySet<string>;
  nodeId: string;
  state: Pick<ClusterState, "listSettings" | "subscribe">;
  log: Log;
}): Promise<LiveManagedSettings> {
  const read = async (): Promise<Map<string, string>> =>
    new Map((await o.state.listSettings()).map((s) => [s.key, s.value]));
  const managed = createManagedSettings({ ...o, rows: await read() });
  const refresh = async (): Promise<void> => managed.update(await read());
  const unsubscribe =
    o.state.subscribe?.((change) => {
      if (change.kind !== "settings") return;
      refresh().catch((e: unknown) => o.log.problem("stored settings not read", { error: String(e) }));
    }) ?? (() => undefined);
  return { ...managed, settings: managed.settings, refresh, stop: unsubscribe };
}

/** What the admin API needs: this node's entries, the members, and a writer that applies here. */
export function managedConfigApi(
  managed: LiveManagedSettings,
  state: Pick<ClusterState, "setSetting">,
  members: () => Promise<{ id: string; role: string }[]>,
): { entries(): ManagedEntry[] } & ConfigWriter {
  return {
    entries: () => managed.entries(),
    members,
    write: async (key, node, value) => {
      await state.setSetting(storedKey(key, node), value === null ? null : JSON.stringify(value));
      await managed.refresh();
    },
  };
}
