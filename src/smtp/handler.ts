// The contract between the SMTP protocol engine and whatever receives mail (the inbound policy
// and the queue). The engine owns the protocol: syntax, sequence, limits, DATA/BDAT framing,
// dot-unstuffing, CRLF enforcement, STARTTLS and the AUTH exchange. The handler owns decisions:
// who may relay, which recipients exist, where the bytes go. Both sides trust nothing the client
// sent beyond what the engine has validated (syntax, lengths).
import type { MailParameters, RcptParameters } from "../proto/params.js";
import type { Reply } from "../proto/reply.js";

export type ListenerKind = "smtp" | "submission";

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface SessionInfo {
  /** Session id, also the 6-digit id in log records. */
  readonly id: number;
  readonly listener: ListenerKind;
  /** The real client (the one a PROXY header names, when the listener takes one). */
  readonly remote: Endpoint;
  readonly local: Endpoint;
  readonly helo: string | null;
  readonly esmtp: boolean;
  readonly tls: boolean;
  readonly authUser: string | null;
  /** The cluster member whose certificate (from the cluster CA) the TLS peer presented; null: none. */
  readonly member?: string | null;
}

/** MAIL FROM's parameters as proto/params.ts parses them (ENVID xtext-decoded). */
export type MailParams = MailParameters;
/** RCPT TO's parameters (ORCPT "addr-type;address", xtext-decoded). */
export type RcptParams = RcptParameters;

export interface Transaction {
  /** "" for the null reverse path. */
  readonly from: string;
  readonly params: MailParams;
  /** Recipients accepted so far, in order. */
  readonly rcpts: readonly { readonly address: string; readonly params: RcptParams }[];
}

/** "throttled": too many failures for this account or client address; refused unchecked. */
export type AuthResult = "ok" | "invalid" | "temporary" | "throttled";

export interface MessageSink {
  /**
   * Unstuffed message bytes with CRLF line endings only, holding just what MAIL FROM declared
   * (any bytes only for BODY=BINARYMIME); await before writing more (backpressure).
   */
  write(chunk: Buffer): Promise<void>;
  /** All bytes are in: make the message durable and say the final reply (250 only when durable). */
  end(): Promise<Reply>;
  /** The transfer failed (size, bare LF, disconnect): discard what was written. */
  abort(): Promise<void>;
  /**
   * Envelope changes a content filter (a milter, src/inbound/milters.ts) decided on, called just
   * before end(). Sinks that cannot honour them (delivery at receipt) leave it out, and filters
   * that may make them are only put in front of sinks that have it.
   */
  amend?(change: EnvelopeChange): void;
}

export interface EnvelopeChange {
  /** The new reverse path ("" = <>), or null to keep it. */
  readonly from: string | null;
  /** Recipients to add, as final addresses. */
  readonly add: readonly string[];
  /** Recipients to remove, as the client gave them at RCPT (case-insensitive). */
  readonly remove: readonly string[];
  /** Keep the message held in the queue (quarantine) with this reason; null: deliver. */
  readonly hold: string | null;
}

export interface SmtpHandler {
  /** A new connection; a Reply rejects it (the engine sends it and closes), null accepts. */
  connect(s: SessionInfo): Promise<Reply | null>;
  /** user is as the client sent it; mech is the SASL mechanism (PLAIN, LOGIN). */
  authenticate(s: SessionInfo, user: string, password: string, mech: string): Promise<AuthResult>;
  /** An AUTH refused before any check (no name, a foreign authorization identity): 535 follows. */
  authRefused?(s: SessionInfo, user: string, mech: string): Promise<void>;
  mailFrom(s: SessionInfo, from: string, params: MailParams): Promise<Reply>;
  rcptTo(s: SessionInfo, tx: Transaction, to: string, params: RcptParams): Promise<Reply>;
  /** Called at DATA (or the first BDAT) with at least one recipient; a Reply refuses the data. */
  openMessage(s: SessionInfo, tx: Transaction): Promise<MessageSink | Reply>;
  /** Called only when VRFY is enabled. */
  vrfy(s: SessionInfo, address: string): Promise<Reply>;
  close(s: SessionInfo): void;
}
