// What the client needs to know about a message and its recipients. Structural, so the queue's
// Envelope and EnvelopeRecipient fit without src/smtp importing src/queue (DESIGN.md §6).

export interface OutboundMessage {
  /** Reverse path without brackets; "" is the null sender. */
  readonly returnPath: string;
  readonly ret: "FULL" | "HDRS" | null;
  /** xtext-decoded ENVID. */
  readonly envid: string | null;
  readonly body: "7BIT" | "8BITMIME" | "BINARYMIME";
  readonly smtputf8: boolean;
  /** RFC 8689: only over verified TLS to a server that offers REQUIRETLS (requireTlsProblem). */
  readonly requireTls?: boolean;
  /** Message size in bytes (for SIZE=). */
  readonly size: number;
}

export interface OutboundRecipient {
  readonly address: string;
  readonly notify: "NEVER" | readonly ("SUCCESS" | "FAILURE" | "DELAY")[] | null;
  /** "addr-type;address", xtext-decoded. */
  readonly orcpt: string | null;
}
