// The seam between the one composition root (compose.ts) and what each role adds: what a role's
// parts (single.ts, frontend.ts, backend.ts) are given and give back, how the role stands
// towards other nodes (alone, single.ts; a cluster member, member.ts), and the channels every
// role builds the same way.
import type { MemberTls } from "../cluster/tls/member-tls.js";
import type http from "node:http";
import type { AdminServerOptions } from "../admin/http.js";
import type { ChannelClient } from "../cluster/channel/client.js";
import type { InboundDirectory } from "../cluster/api/types.js";
import type { Membership } from "../cluster/membership.js";
import type { Placement } from "../cluster/placement.js";
import type { ClusterState } from "../cluster/state.js";
import { mailRoot } from "../config/paths.js";
import type { Settings } from "../config/settings.js";
import { createLocalChannel, type LocalChannel } from "../delivery/local.js";
import type { LocalReceipt } from "../queue/receipt.js";
import { createRelayChannel, type RelayChannel, type RelayChannelOptions } from "../delivery/relay.js";
import { metricsTlsSink, type TlsReportSink } from "../delivery/relay/tls-report.js";
import type { Directory } from "../directory/directory.js";
import type { InboundOptions } from "../inbound/handler.js";
import type { MilterOptions } from "../inbound/milters.js";
import type { LogSink, Tag } from "../log/logger.js";
import type { Reply } from "../proto/reply.js";
import type { Metrics } from "../log/metrics.js";
import type { Deliverer, Queue } from "../queue/types.js";
import type { QueueManager } from "../queue/manager.js";
import type { FileSpool } from "../queue/spool.js";
import type { DeliveryRules } from "../delivery/rules-hook.js";
import type { SourceContext } from "../sources/context.js";
import { createMaildirStore, type MaildirOptions, type MaildirStore } from "../store/maildir.js";
import type { Bound } from "./listeners.js";
import type { DkimSigner } from "../delivery/dkim/sign.js";
import type { NodeWorld } from "./start-options.js";
import type { SubmitPath } from "./submit-path.js";
import type { Teardown } from "./teardown.js";
import type { LiveManagedSettings } from "./managed-settings.js";

/** What every role is given. */
export interface PartsContext {
  readonly settings: Settings;
  readonly world: NodeWorld;
  readonly log: LogSink;
  readonly metrics: Metrics;
  /**
   * The directory (SQLite file or PostgreSQL; a cluster's is shared). Frontends hand it to the
   * admin API and read only credential stamps from it (keys of their password-check cache).
   */
  readonly directory: Directory;
  /** Account and domain rules for the mailboxes this node stores (single servers, backends). */
  readonly rules: DeliveryRules;
  /** DKIM signing of relayed mail (single servers and frontends; backends leave it to them). */
  readonly dkim?: DkimSigner;
  /** Where the relay's TLS policy results go besides /metrics (the TLS-RPT book). */
  readonly tlsReports?: TlsReportSink;
}

/** What a cluster role is given besides. */
export interface RoleContext extends PartsContext {
  readonly state: ClusterState;
  /** Live members; empty until the node has joined. */
  readonly members: Pick<Membership, "live">;
  readonly placement: Placement;
  /** The delivery channel client, aimed by placement. */
  readonly channelClient: ChannelClient;
  /** Cluster TLS (null: links in clear, cluster.tls). */
  readonly memberTls: MemberTls | null;
}

export interface RoleParts {
  /** What the inbound SMTP policy and the queue's expansion of generated mail ask. */
  readonly inbound: InboundDirectory;
  /** The queue's router and channels. */
  readonly deliverer: Deliverer;
  /** Mounted on the admin HTTP server before its own routes (the cluster API on backends). */
  readonly extra?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;
  /**
   * The mailboxes this node stores (single servers, backends), with the directory answering
   * their usage: it runs the message sources (sources.ts).
   */
  readonly mailboxes?: { readonly store: MaildirStore; readonly directory: Directory };
  /** Delivery at receipt into those mailboxes (single servers with local.deliverOnReceipt). */
  readonly receipt?: (nextId: () => string) => LocalReceipt;
  /** Binds the delivery channel listener (backends). */
  readonly listenChannel?: () => Promise<Bound>;
  /** Stops the role's listeners (before the queue stops). */
  closeListeners(): Promise<void>;
  /** Releases the rest (after the queue has stopped). */
  close(): Promise<void>;
}

/** How a role stands towards other nodes: alone (single.ts) or as a cluster member (member.ts). */
export interface Standing<Joined> {
  /** Tags the state stores' own log. */
  readonly tag: Tag;
  /** The settings as loaded, before anything is opened; throws on what the role cannot run with. */
  prepare(settings: Settings): Promise<Settings>;
  /** The same check once the managed settings are laid over. */
  check(settings: Settings): void;
  /** What the standing adds, opened once the state is (its stops go on `teardown`). */
  open(ctx: StandingContext, teardown: Teardown): Stand<Joined>;
}

export interface StandingContext extends PartsContext {
  readonly state: ClusterState;
  /** The settings from the state's table, followed live. */
  readonly managed: LiveManagedSettings;
}

/** An opened standing: what it adds to each of the shared parts the root wires. */
export interface Stand<Joined> {
  /** The role's parts, with what the standing adds to their context. */
  parts(ctx: PartsContext): RoleParts;
  /** The queue's deliverer: a member's waits until it has joined. */
  deliverer(d: Deliverer): Deliverer;
  /** The node's spool as the queue uses it: a member's copies each message to a peer (shadows). */
  readonly spool?: (spool: FileSpool) => FileSpool;
  /** Cluster TLS of a member (the SMTP listeners take member certificates over STARTTLS). */
  readonly memberTls?: MemberTls | null;
  /** Lets waiting deliveries go (and defer), so that a queue stopped before the node joined can stop. */
  release(): void;
  /** Right before the queue starts (a drained member pauses its deliveries, cluster/drain). */
  beforeQueue?(queue: QueueManager): Promise<void>;
  /** When not null, what the mail listeners answer every new connection (a draining member: 421). */
  readonly closed?: () => Reply | null;
  /** The Submitter of the node's message sources, and verbs its SMTP listeners add. */
  submitPath(o: { readonly queue: Queue; readonly milters: MilterOptions | null }): SubmitPath;
  readonly sources: Pick<SourceContext, "stores">;
  readonly inbound: Pick<InboundOptions, "storable" | "carries" | "submitVia" | "relayMember">;
  readonly admin: Pick<AdminServerOptions, "homes" | "owners" | "cluster" | "submit" | "drain">;
  /** The nodes the managed settings may name (admin API, WebAdmin). */
  nodes(): Promise<{ id: string; role: string }[]>;
  /** Added to /healthz; ok false until the node has joined. */
  health(): { ok: boolean; detail: Record<string, unknown> };
  /** Once the listeners are bound: joins the others (a member), with what it then offers. */
  join(at: {
    readonly smtp: Bound | undefined;
    readonly submissions: Bound | undefined;
    readonly http: Bound;
    readonly channel: Bound | null;
    readonly queueSize: () => number;
    /** The node's queue (a member's take-over adds promoted copies to it). */
    readonly queue: QueueManager;
  }): Promise<Joined>;
}

/**
 * The node's Maildir mailboxes and the mailbox channel delivering into them; `fence` (a dynamic
 * cluster's backend: the lease check) is asked right before each message is published.
 */
export function mailboxChannel(
  ctx: PartsContext,
  fence?: MaildirOptions["fence"],
): { store: MaildirStore; local: LocalChannel } {
  const { settings, log } = ctx;
  const store = createMaildirStore(mailRoot(settings), log.for("LOCAL"), {
    groupAccess: settings.local.mailGroupAccess,
    ...(fence !== undefined ? { fence } : {}),
  });
  const local = createLocalChannel({
    directory: ctx.directory,
    store,
    settings,
    clock: ctx.world.clock,
    log: log.for("LOCAL"),
    hostname: settings.hostname,
    rules: ctx.rules,
  });
  return { store, local };
}

/** The relay (MX, or smtp.forwardTo), signing with the context's DKIM keys when it has them. */
export function relayChannel(
  ctx: PartsContext,
  more: Pick<RelayChannelOptions, "frontends" | "member"> = {},
): RelayChannel {
  const { settings, world } = ctx;
  return createRelayChannel({
    settings,
    resolver: world.resolver,
    dialer: world.dialer,
    clock: world.clock,
    log: ctx.log.for("SMTP"),
    hostname: settings.hostname,
    ...(ctx.dkim !== undefined ? { dkim: ctx.dkim } : {}),
    tlsReports: metricsTlsSink(ctx.metrics, ctx.tlsReports),
    ...more,
  });
}
