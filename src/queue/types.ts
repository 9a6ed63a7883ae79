// The queue's contracts: the spool (files on disk), the deliverer the queue manager calls (the
// delivery layer implements it; the queue never imports delivery), and the operator's view.
import type { Readable } from "node:stream";
import type { Outcome } from "../proto/outcome.js";
import type { Envelope, EnvelopeRecipient, MessageState, RecipientState } from "./envelope.js";

/** Envelope fields the receiver knows; the queue assigns id and size. */
export type EnvelopeDraft = Omit<Envelope, "id" | "size">;

export interface CommitOptions {
  readonly held?: boolean;
}

/** A message being received: bytes stream to a temporary file; commit makes it durable. */
export interface Incoming {
  readonly id: string;
  /** Resolves when the chunk is handed to the file (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /**
   * fsync the file, set the ready mark (rename into the queue), fsync the directory (shared with
   * concurrent commits: group commit), then admit the message for delivery. Only after this
   * resolves may anyone answer 250. `held`: the message starts in the held state (a milter's
   * quarantine), saved before commit resolves, so it is never tried until an operator releases it.
   */
  commit(draft: EnvelopeDraft, opts?: CommitOptions): Promise<Envelope>;
  /** Discard the temporary file. Safe to call after a failed commit. */
  abort(): Promise<void>;
}

export interface StoredMessage {
  readonly envelope: Envelope;
  state: MessageState;
  readonly recipients: RecipientState[];
}

export interface Spool {
  /** Create directories, remove unfinished temporary files, load every ready message. */
  open(): Promise<StoredMessage[]>;
  begin(id: string): Promise<SpoolWriter>;
  /** The stored message bytes (without the envelope). */
  body(id: string): Readable;
  /**
   * Check the stored bytes against the checksum taken at enqueue, before they are delivered:
   * null when they match (or there is nothing to check); else the reason, and the message has
   * been moved to the quarantine (corrupt/) and is no longer in the spool.
   */
  verify(id: string): Promise<string | null>;
  /** Replace the per-recipient state atomically (write temp, fsync, rename). */
  saveState(id: string, state: MessageState, recipients: readonly RecipientState[]): Promise<void>;
  /** Remove the message and its state; the message has left the queue. */
  remove(id: string): Promise<void>;
  /** Release what the spool holds open (directory descriptors); called when the queue stops. */
  close(): Promise<void>;
}

export interface SpoolWriter {
  write(chunk: Buffer): Promise<void>;
  commit(envelope: Envelope): Promise<void>;
  abort(): Promise<void>;
}

/** Where a recipient goes: one destination queue per key (a remote domain, a relay host, a local account). */
export interface Route {
  /** e.g. "relay:example.test", "forward:10.0.0.1:25", "local:user@example.test". */
  readonly key: string;
  readonly kind: "local" | "remote";
}

export interface DeliveryJob {
  readonly envelope: Envelope;
  /** Recipients to attempt, all with the same route; outcomes come back in this order. */
  readonly recipients: readonly { readonly index: number; readonly rcpt: EnvelopeRecipient }[];
  readonly route: Route;
  /** A fresh stream of the message bytes each call. */
  body(): Readable;
}

export interface Deliverer {
  route(rcpt: EnvelopeRecipient): Promise<Route>;
  /** One outcome per job recipient, in order. Never rejects for delivery problems (values, not exceptions). */
  deliver(job: DeliveryJob): Promise<Outcome[]>;
}

/** The operator's view of one queued message. */
export interface QueueEntrySummary {
  readonly id: string;
  readonly from: string;
  readonly arrival: number;
  readonly size: number;
  readonly state: MessageState;
  readonly source: string;
  readonly recipients: readonly {
    readonly address: string;
    readonly status: RecipientState["status"];
    readonly attempts: number;
    readonly nextAttempt: number;
    readonly lastReply: string | null;
    readonly lastRelay: string | null;
  }[];
}

/** What the queue manager offers to receivers, the admin API and the CLI. */
export interface Queue {
  /** Start receiving one message; refuse with "full" when the queue is at its limit. */
  begin(): Promise<Incoming | "full">;
  /** Enqueue a whole message generated here (DSNs, forwards). */
  submit(draft: EnvelopeDraft, message: Buffer): Promise<Envelope>;
  size(): number;
  list(): QueueEntrySummary[];
  show(id: string): QueueEntrySummary | null;
  hold(id: string): Promise<boolean>;
  release(id: string): Promise<boolean>;
  /** Remove without any report. */
  delete(id: string): Promise<boolean>;
  /** Make every pending recipient due now. */
  retryNow(id: string): Promise<boolean>;
  /** Bounce every pending recipient now with this text (550 5.0.0 + text), sending DSNs. */
  reject(id: string, text: string): Promise<boolean>;
}
