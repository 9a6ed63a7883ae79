// The contract for delivery at receipt: a message whose only recipient is a local account the
// node can open is written straight into that mailbox while it arrives, and the 250 after DATA
// means it is stored there (fsync'd, file and directory), as an LMTP server does (RFC 2033 §4.2).
// The queue never sees it: no queue file, no second copy, no second fsync. Anything the receiver
// cannot settle alone (other recipients, success DSNs, a quota it might exceed, a mailbox it
// cannot open) returns null and takes the queue path, so no case loses its usual handling.
// Its contract sits here, beside the queue's Incoming, because it is the one other way a message
// gets from a receiver to storage: the delivery layer implements it (src/delivery/receipt.ts),
// the inbound policy calls it, and neither imports the other.
import type { Reply } from "../proto/reply.js";
import type { EnvelopeRecipient } from "./envelope.js";

export interface ReceiptSink {
  /** The id in logs and in the Received: header (the same space as queue ids). */
  readonly id: string;
  /** Message bytes as they arrive, the Received: header first. */
  write(chunk: Buffer): Promise<void>;
  /** All bytes are in: store durably and say the final reply (250 only once stored). */
  end(): Promise<Reply>;
  /** The transfer failed: nothing is stored. */
  abort(): Promise<void>;
}

export interface LocalReceipt {
  /**
   * A sink into the recipient's mailbox, or null when the message must take the queue path.
   * `session` puts the SMTP session's id and client into the delivery's log records.
   */
  open(
    rcpt: EnvelopeRecipient,
    returnPath: string,
    arrival: number,
    session?: { readonly id: number; readonly remote: string },
  ): Promise<ReceiptSink | null>;
}
