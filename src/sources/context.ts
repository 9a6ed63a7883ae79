// What a message source (src/sources/*) is given by the node that runs it: the node's settings,
// directory (accounts, credentials), the Submitter (src/queue/submit.ts) that every generated
// message goes through, the world, and its logs. A source starts with the node and stops before
// the queue does.
import type http from "node:http";
import type { SecureContext } from "node:tls";
import type { Settings } from "../config/settings.js";
import type { Directory } from "../directory/directory.js";
import type { LogSink } from "../log/logger.js";
import type { Submitter } from "../queue/submit.js";
import type { LoginGate } from "../state/login-gate.js";
import type { MaildirStore } from "../store/maildir.js";
import type { Clock } from "../world/clock.js";
import type { Dialer } from "../world/dialer.js";
import type { Random } from "../world/random.js";
import type { RpopStore } from "./rpop/store.js";

export interface SourceContext {
  readonly settings: Settings;
  readonly directory: Directory;
  readonly submitter: Submitter;
  /** The node's login gate for accounts (POP3, the submission API), shared with SMTP AUTH. */
  readonly login: LoginGate;
  /** The node's mailboxes: single servers and backends only (POP3, Submitted/ folders). */
  readonly store: MaildirStore | null;
  /** The node's TLS context (smtp.tls, or the self-signed pair), for STLS; null: no TLS. */
  readonly tls: SecureContext | null;
  /**
   * Whether this node stores an account (its home or lease holder in a cluster), for sources
   * that must run on one node per account (RPOP). Absent: every account (single server).
   */
  readonly stores?: (address: string) => Promise<boolean>;
  /**
   * Opens the RPOP store on the node's state, SQLite file or PostgreSQL (the node passes
   * server/state-stores.ts openRpopStoreFor); the RPOP source owns what it opens and closes it.
   */
  readonly openRpopStore: () => Promise<RpopStore>;
  readonly clock: Clock;
  readonly dialer: Dialer;
  readonly random: Random;
  readonly log: LogSink;
  /** The admin API's bearer token (dataDir/admin.token): the sendmail route accepts only it. */
  readonly adminToken: string;
}

export interface RunningSource {
  /** Listeners the source bound (the POP3 listener), for the node's start record and tests. */
  readonly listening?: readonly { readonly kind: string; readonly address: string; readonly port: number }[];
  /** Stop taking new work and finish or abandon (keeping its copy) what is in flight. */
  close(): Promise<void>;
}

/** What a source's start gives the node (src/server/sources.ts runs them all). */
export interface StartedSource extends RunningSource {
  /** Mounted on the node's HTTP server: resolves true when it answered the request. */
  readonly http?: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;
}
