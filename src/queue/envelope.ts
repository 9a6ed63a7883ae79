// The envelope a queue file carries: everything known about a message apart from its bytes.
// Written once at enqueue; per-recipient delivery state is kept separately (RecipientState).
import type { CarriedMailParameters } from "../proto/params.js";

/** RFC 3461 NOTIFY: "NEVER" or a non-empty subset of the three conditions; null = not given. */
export type Notify = "NEVER" | readonly ("SUCCESS" | "FAILURE" | "DELAY")[] | null;

export interface EnvelopeRecipient {
  /** Final delivery address (after alias/forwarder expansion), as it will be given to RCPT/LMTP/Maildir. */
  readonly address: string;
  /** The address the client gave at RCPT TO, when expansion changed it (for DSNs and logs). */
  readonly original: string | null;
  readonly notify: Notify;
  /** RFC 3461 ORCPT as "addr-type;xtext-decoded address", or null. */
  readonly orcpt: string | null;
}

/**
 * Where a message came from (DESIGN.md §2): SMTP on the MX port, SMTP submission, generated here
 * (DSNs, forwards, account rules), or one of the backend sources: the submission API, the
 * sendmail pipe, the Submitted/ folder, RPOP, POP3 XTND XMIT. Kept across a remote submit.
 */
export const MESSAGE_SOURCES = [
  "smtp",
  "submission",
  "dsn",
  "forward",
  "rule",
  "api",
  "pipe",
  "submitted",
  "rpop",
  "pop3",
] as const;
export type MessageSource = (typeof MESSAGE_SOURCES)[number];

export interface ClientInfo {
  readonly address: string;
  readonly port: number;
  readonly helo: string | null;
  readonly tls: boolean;
}

/** With the MAIL FROM parameters it was received with (ret, envid, body, smtputf8, requireTls). */
export interface Envelope extends CarriedMailParameters {
  /** Queue id: unique, sortable by arrival, safe as a file name. */
  readonly id: string;
  /** Reverse path without brackets; "" is the null sender <>. */
  readonly returnPath: string;
  readonly recipients: readonly EnvelopeRecipient[];
  readonly source: MessageSource;
  readonly authUser: string | null;
  readonly client: ClientInfo | null;
  /** Arrival time, ms since the epoch. */
  readonly arrival: number;
  /** Size of the stored message bytes (including the Received: header Mailyard added). */
  readonly size: number;
}

export type RecipientStatus = "pending" | "delivered" | "bounced";

export interface RecipientState {
  status: RecipientStatus;
  attempts: number;
  /** Earliest time of the next attempt (ms epoch); 0 = as soon as possible. */
  nextAttempt: number;
  /** Last reply seen for this recipient, wire-free. */
  lastReply: { code: number; enhanced: string | null; text: string } | null;
  /** Which remote host gave lastReply ("mailbox" for local delivery). */
  lastRelay: string | null;
  /** How many delay warnings were sent (index into queue.delayWarnings). */
  warningsSent: number;
  /** Set once a DSN (failure or success) for this recipient is enqueued. */
  reported: boolean;
}

export type MessageState = "active" | "held";
