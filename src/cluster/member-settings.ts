// What a cluster member (frontend or backend) refuses to start with, checked at start and again
// once the stored (managed) settings are laid over: a weak cluster secret, a node id that cannot
// travel on the wire, and smtp.forwardTo "*" on a frontend. Throws ConfigError, naming the setting.
import { ConfigError } from "../config/load.js";
import type { Settings } from "../config/settings.js";
import { validNodeId } from "./api/auth.js";
import { checkSecret, isWireNodeId } from "./secret.js";

/** Refuses settings a cluster member cannot run with, naming the setting. */
export function checkMemberSettings(settings: Settings): void {
  const weak = checkSecret(settings.cluster.secret);
  if (weak !== null) throw new ConfigError(`role ${settings.role}: ${weak}`);
  const id = settings.node.id;
  if (!validNodeId(id) || !isWireNodeId(id))
    throw new ConfigError(`node.id ${JSON.stringify(id)}: use printable ASCII without spaces`);
  // "*" hands remote mail to a frontend; on a frontend that would hand it to itself or a peer.
  if (settings.role === "frontend" && settings.smtp.forwardTo.some((e) => e.trim() === "*"))
    throw new ConfigError('smtp.forwardTo "*" (relay through the frontends) is for backends, not frontends');
}
