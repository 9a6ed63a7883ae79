// The three roles (DESIGN.md §1), each a row of parts the one composition root (compose.ts)
// wires: its own parts (single.ts, frontend.ts, backend.ts), how it stands (alone, or a
// cluster member, member.ts), whether it signs with DKIM and runs milters.
import type { Role } from "../cluster/state.js";
import type { Settings } from "../config/settings.js";
import { startBackendRole } from "./backend.js";
import { startRole, type RoleSpec, type StartedNode } from "./compose.js";
import { startFrontendRole } from "./frontend.js";
import { clusterMember, type Joined } from "./member.js";
import { standAlone } from "./single.js";
import type { NodeOptions } from "./start-options.js";

const ROLES = {
  single: { standing: standAlone, signs: true, filters: true },
  // Frontends sign and filter what they relay out and take in, once for the cluster.
  frontend: { standing: clusterMember("frontend", startFrontendRole), signs: true, filters: true },
  backend: { standing: clusterMember("backend", startBackendRole), signs: false, filters: false },
} as const satisfies Record<Role, RoleSpec<unknown>>;

export type ClusterNode = StartedNode<Joined> & { readonly role: Exclude<Role, "single"> };

/** A node in the role its settings name. */
export function startRoleNode(settings: Settings, opts: NodeOptions): Promise<StartedNode<unknown>> {
  return settings.role === "single"
    ? startRole(ROLES.single, settings, opts)
    : startClusterNode(settings, opts);
}

/** A frontend or backend (tests start cluster members in-process through it). */
export async function startClusterNode(settings: Settings, opts: NodeOptions): Promise<ClusterNode> {
  const role = settings.role;
  if (role === "single") throw new Error("startClusterNode: role single is startNode's");
  const node = await startRole(ROLES[role], settings, opts);
  return { ...node, role };
}
