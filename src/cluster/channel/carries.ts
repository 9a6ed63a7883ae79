// What the delivery channel carries, as one rule for both of its ends and for every node that
// accepts mail which may cross it (the frontend, and a backend whose account lives elsewhere).
// A node that said 250 to mail the channel then refused would bounce it to a sender that may be
// forged (backscatter), so the receiving side asks this same function before its 250.
//
// The channel is LMTP with DATA only (RFC 2033, no CHUNKING): a BODY=BINARYMIME message cannot
// cross it as it is, and RFC 3030 §3 allows only converting or returning it (5.6.3); converting
// binary MIME to base64 would rewrite its structure, so it is refused. Text crossing it has
// CRLF line endings only and no NUL (the DataDecoder's rules); 8-bit is allowed whatever the
// label, because the sender is a cluster member's queue, whose BODY label may understate (a
// DSN quoting a UTF-8 reply) and 8-bit bytes cannot end a DATA stream.
import type { ContentRules } from "../../proto/dataframe.js";
import { REPLIES, type Reply } from "../../proto/reply.js";

export const CHANNEL_CONTENT: ContentRules = { eightBit: true, nul: false };

/** Why a message with this BODY cannot cross the delivery channel, or null when it can. */
export function channelRefusal(body: "7BIT" | "8BITMIME" | "BINARYMIME"): Reply | null {
  return body === "BINARYMIME" ? REPLIES.binaryNotCarried : null;
}
