// The admin API's answers as the WebAdmin pages read them (types only, never served). The
// server's own types are the source: src/admin/web/page-types.test.ts has tsc check that each
// server answer fits the shape declared here, so a renamed or retyped field fails the build
// instead of showing "undefined" in a page.

export type ClusterKind = "single" | "static" | "dynamic";

/** GET /admin/session, POST /admin/login. */
export interface Session {
  readonly user: string;
  readonly csrf: string;
}

/** An error answer: `error`, and for a refused rule text or Sieve script every problem. */
export interface ErrorBody {
  readonly error?: string;
  readonly errors?: readonly Problem[];
}

export interface Problem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** GET /api/cluster/members (src/admin/node-routes.ts). */
export interface Members {
  readonly self: string;
  readonly role: string;
  readonly kind: ClusterKind;
  readonly members: readonly Member[];
}

export interface Member {
  readonly id: string;
  readonly role: string;
  readonly up: boolean;
  readonly smtp: string;
  readonly http: string;
  readonly channel: string | null;
  readonly submitMessages: string;
  readonly queueSize: number;
  readonly lastHeartbeat: number;
  /** draining or drained (src/cluster/drain); null: taking mail. */
  readonly drain: "draining" | "drained" | null;
}

/** GET /api/cluster/submit (src/cluster/submit/view.ts). */
export interface Submit {
  readonly kind: ClusterKind;
  readonly default: SubmitChoice;
  readonly members: readonly SubmitMember[];
}

export interface SubmitChoice {
  readonly submitMessages: string;
  /** null in the cluster default: each node keeps its own. */
  readonly submitLog: string | null;
}

export interface SubmitMember extends SubmitChoice {
  readonly id: string;
  readonly role: string;
  readonly live: boolean;
  readonly effective: string;
}

/** GET /api/nodes/ID/settings: the node's settings with secrets redacted, and the managed ones. */
export interface NodeSettings {
  readonly node: string;
  readonly settings: ShownSettings;
  readonly managed: readonly ManagedEntry[];
}

/** The parts of src/config/settings.ts the Mail page shows. */
export interface ShownSettings {
  readonly smtp: {
    readonly listen: readonly string[];
    readonly forwardTo: readonly string[];
    readonly relayNetworks: readonly string[];
    readonly proxyProtocolFrom: readonly string[];
    readonly maxMessageSize: number;
    readonly maxRecipients: number;
    readonly outbound: object;
    readonly authChecks: boolean;
    readonly dmarcPolicy: string;
    readonly spfFail: string;
  };
  readonly submission: { readonly listen: readonly string[] };
  readonly queue: object;
  readonly local: object;
  readonly log: object;
}

/** One managed setting of a node (src/server/managed-settings.ts). */
export interface ManagedEntry {
  readonly key: string;
  readonly applies: string;
  readonly value: unknown;
  readonly source: string;
  /** The stored values; null when none is stored there. */
  readonly cluster: unknown;
  readonly node: unknown;
  readonly pending: boolean;
}

/** PUT /api/config. */
export interface ConfigStored {
  readonly value: unknown;
  readonly applies: string;
}

/** GET /api/nodes/ID/milters (src/admin/milter-routes.ts). */
export interface Milters {
  readonly node: string;
  readonly role: string;
  /** false on a backend: its mail is filtered on a frontend. */
  readonly runs: boolean;
  readonly defaultAction: string;
  readonly milters: readonly Milter[];
}

export interface Milter {
  readonly name: string;
  readonly events: readonly string[];
  readonly defaultAction: string;
  readonly connectTimeoutSeconds: number;
  readonly commandTimeoutSeconds: number;
  readonly contentTimeoutSeconds: number;
  readonly actions: Readonly<Record<string, number>>;
  readonly failures: Readonly<Record<string, number>>;
}

/** A DKIM key as GET/POST /api/dkim answer it (src/admin/dkim-routes.ts): never the private key. */
export interface DkimKey {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: string;
  readonly created: number;
  readonly dnsName: string;
  readonly record: string;
}

/** GET /api/dkim. */
export interface DkimKeys {
  readonly keys: readonly DkimKey[];
}

/** GET /api/rules/... ({ text }) and /api/sieve/... ({ script }). */
export type RuleSource = { readonly text?: string; readonly script?: string };

/** GET /api/domains. */
export interface Domains {
  readonly domains: readonly string[];
}

export interface FlowLimit {
  readonly messages: number;
  readonly periodSeconds: number;
}

/** An account as the account routes answer (src/directory/directory.ts, with its placement). */
export interface Account {
  readonly address: string;
  readonly enabled: boolean;
  readonly quotaBytes: number | null;
  readonly maxMessageSize: number | null;
  readonly outFlow: FlowLimit | null;
  readonly inFlow: FlowLimit | null;
  readonly usedBytes: number;
  /** A static cluster's home backend. */
  readonly home?: string | null;
  /** A dynamic cluster's current owner. */
  readonly owner?: Owner | null;
}

export interface Owner {
  readonly node: string;
  readonly expiresAt: number;
}

/** GET /api/accounts?q=&offset=&limit= (one page). */
export interface AccountPage {
  readonly kind: ClusterKind;
  readonly accounts: readonly Account[];
  readonly total: number;
}

/** GET /api/accounts/ADDRESS. */
export interface PlacedAccount extends Account {
  readonly kind: ClusterKind;
}

/** GET /api/nodes/ID/queue (src/queue/types.ts, QueueEntrySummary). */
export interface QueueList {
  readonly size: number;
  readonly messages: readonly QueuedMessage[];
}

export interface QueuedMessage {
  readonly id: string;
  readonly from: string;
  readonly arrival: number;
  readonly size: number;
  readonly state: string;
  readonly source: string;
  readonly recipients: readonly QueuedRecipient[];
}

export interface QueuedRecipient {
  readonly address: string;
  /** "pending", "delivered", "bounced", ... (src/queue/types.ts). */
  readonly status: string;
  readonly attempts: number;
  readonly nextAttempt: number;
  readonly lastReply: string | null;
}

/** GET /api/nodes/ID/queue/MSGID?headers=1. */
export interface MessageDetail extends QueuedMessage {
  /** The header section, or null when it could not be read. */
  readonly headers?: string | null;
}

/** GET /api/nodes/ID/monitor (src/admin/node-routes.ts, src/admin/minutes.ts). */
export interface Monitor {
  readonly queue: number;
  readonly counters: {
    readonly received: Counter;
    readonly delivered: Counter;
    readonly deferred: Counter;
    readonly bounced: Counter;
    readonly connections: Counter;
  };
  readonly minutes: readonly MinutePoint[];
}

/** A counter's total and its split by one label. */
export type Counter = { readonly total: number } & Readonly<Record<string, number>>;

export interface MinutePoint {
  readonly at: number;
  readonly in: number;
  readonly out: number;
  readonly latency: number | null;
  readonly queue: number | null;
}

/** GET /api/nodes/ID/logs. */
export interface Logs {
  readonly tags: readonly string[];
  readonly records: readonly { readonly line: string }[];
}
