// What an LMTP server's handler adds to the SMTP contract (../../handler.ts): after the data, one
// reply per accepted recipient (RFC 2033 §4.2), decided by whoever stores the message. The
// message arrives whole (held in memory, bounded by smtp.maxMessageSize of the listener's
// settings), or as the reply that refused it (size, bare line ending), which each recipient hears.
import type { Reply } from "../../../proto/reply.js";
import type { SessionInfo, SmtpHandler, Transaction } from "../../handler.js";

export type ReceivedMessage = { readonly message: Buffer } | { readonly refused: Reply };

export interface LmtpHandler extends SmtpHandler {
  /** One reply per accepted recipient of `tx`, in RCPT order. */
  deliverEach(s: SessionInfo, tx: Transaction, got: ReceivedMessage): Promise<readonly Reply[]>;
}
