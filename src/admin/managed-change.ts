// The checks of a managed setting's new value (src/config/managed.ts) that the schema cannot
// make, run before the value is stored: by the admin API (config-routes.ts) and by
// `mailyard settings set` (src/cli/settings-command.ts). The value is untrusted input.
import { ConfigError } from "../config/load.js";
import type { Scope } from "../config/managed.js";
import { parseNetworks } from "../inbound/networks.js";
import { parseHostPort } from "../proto/hostport.js";

/**
 * What the schema cannot see: addresses and networks that must parse, and "*" in smtp.forwardTo,
 * which only a backend may have (so never cluster-wide, where frontends would read it too).
 * `role` is the node's, for a node-scoped value. Throws ConfigError.
 */
export function checkManagedChange(key: string, value: unknown, scope: Scope, role?: string): void {
  const list = Array.isArray(value) ? (value as string[]) : [];
  const bad = (why: string): ConfigError => new ConfigError(`invalid value for ${key}: ${why}`);
  try {
    if (key === "smtp.relayNetworks") parseNetworks(list);
    if (key === "smtp.listen" || key === "submission.listen" || key === "submissions.listen")
      for (const a of list) parseHostPort(a);
    if (key === "smtp.forwardTo") for (const a of list) if (a.trim() !== "*") parseHostPort(a, 25);
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (key === "smtp.forwardTo" && list.some((a) => a.trim() === "*")) {
    if (scope === "cluster")
      throw bad('"*" (relay through the frontends) is set per backend, not cluster-wide');
    if (role !== undefined && role !== "backend") throw bad(`"*" is for backends; this node is a ${role}`);
  }
}
