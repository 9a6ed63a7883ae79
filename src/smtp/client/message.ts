// What the client needs to know about a message and its recipients. Structural, so the queue's
// Envelope and EnvelopeRecipient fit without src/smtp importing src/queue (DESIGN.md §6).
import type { CarriedMailParameters } from "../../proto/params.js";

/** requireTls: see requireTlsProblem. */
export interface OutboundMessage extends CarriedMailParameters {
  /** Reverse path without brackets; "" is the null sender. */
  readonly returnPath: string;
  /** Message size in bytes (for SIZE=). */
  readonly size: number;
}

export interface OutboundRecipient {
  readonly address: string;
  readonly notify: "NEVER" | readonly ("SUCCESS" | "FAILURE" | "DELAY")[] | null;
  /** "addr-type;address", xtext-decoded. */
  readonly orcpt: string | null;
}
