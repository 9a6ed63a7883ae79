// The seam between the wiring every role shares (node.ts, roles.ts, node-parts.ts) and what each
// role adds (single.ts, frontend.ts, backend.ts): what a role is given and what it gives back.
import type http from "node:http";
import type { ChannelClient } from "../cluster/channel/client.js";
import type { InboundDirectory } from "../cluster/api/types.js";
import type { Membership } from "../cluster/membership.js";
import type { Placement } from "../cluster/placement.js";
import type { ClusterState } from "../cluster/state.js";
import type { Settings } from "../config/settings.js";
import type { Directory } from "../directory/directory.js";
import type { LogSink } from "../log/logger.js";
import type { Deliverer } from "../queue/types.js";
import type { DeliveryRules } from "../delivery/rules-hook.js";
import type { MaildirStore } from "../store/maildir.js";
import type { Bound } from "./listeners.js";
import type { DkimSigner } from "../delivery/dkim/sign.js";
import type { NodeWorld } from "./start-options.js";

/** What every role is given. */
export interface PartsContext {
  readonly settings: Settings;
  readonly world: NodeWorld;
  readonly log: LogSink;
  /**
   * The directory (SQLite file or PostgreSQL; a cluster's is shared). Frontends hand it to the
   * admin API and read only credential stamps from it (keys of their password-check cache).
   */
  readonly directory: Directory;
  /** Account and domain rules for the mailboxes this node stores (single servers, backends). */
  readonly rules: DeliveryRules;
  /** DKIM signing of relayed mail (single servers and frontends; backends leave it to them). */
  readonly dkim?: DkimSigner;
}

/** What a cluster role is given besides. */
export interface RoleContext extends PartsContext {
  readonly state: ClusterState;
  /** Live members; empty until the node has joined. */
  readonly members: Pick<Membership, "live">;
  readonly placement: Placement;
  /** The delivery channel client, aimed by placement. */
  readonly channelClient: ChannelClient;
}

export interface RoleParts {
  /** What the inbound SMTP policy and the queue's expansion of generated mail ask. */
  readonly inbound: InboundDirectory;
  /** The queue's router and channels. */
  readonly deliverer: Deliverer;
  /** Mounted on the admin HTTP server before its own routes (the cluster API on backends). */
  readonly extra?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;
  /** The mailboxes this node stores (single servers, backends): it runs the message sources (sources.ts). */
  readonly store?: MaildirStore;
  /** Binds the delivery channel listener (backends). */
  readonly listenChannel?: () => Promise<Bound>;
  /** Stops the role's listeners (before the queue stops). */
  closeListeners(): Promise<void>;
  /** Releases the rest (after the queue has stopped). */
  close(): Promise<void>;
}
