// The LMTP reply for one recipient after the data (RFC 2033 §4.2), from the delivery outcome the
// receiving backend reached. The reply class must say what the outcome says, because the sending
// node acts on the code alone: 2xx delivered, 4xx retry, 5xx bounce. A reply whose code
// disagrees with its outcome (a channel bug) is replaced by a generic one of the right class.
// The text names the recipient, as Dovecot and Postfix do, so the sender's logs say who. No I/O.
import type { Outcome } from "../../proto/outcome.js";
import { REPLIES, reply, type Reply } from "../../proto/reply.js";

/** Room for the code, enhanced code and address within a 512-octet reply line (RFC 5321). */
const MAX_TEXT = 300;

export function recipientReply(address: string, o: Outcome | undefined): Reply {
  if (o === undefined) return withAddress(address, REPLIES.localError);
  const cls = o.kind === "delivered" ? 2 : o.kind === "deferred" ? 4 : 5;
  const r = o.reply;
  if (Math.floor(r.code / 100) === cls && r.code !== 421) {
    const enhanced = r.enhanced !== null && r.enhanced.startsWith(`${cls}.`) ? r.enhanced : `${cls}.0.0`;
    return withAddress(address, reply(r.code, enhanced, r.text));
  }
  const fallback = cls === 2 ? REPLIES.ok : cls === 4 ? REPLIES.localError : REPLIES.failed;
  return withAddress(address, reply(fallback.code, fallback.enhanced, r.text || fallback.text));
}

/** One line: the recipient, then the text without line breaks or control characters. */
function withAddress(address: string, r: Reply): Reply {
  const text = r.text
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x1f\x7f]+/g, " ")
    .trim()
    .slice(0, MAX_TEXT);
  return reply(r.code, r.enhanced, `<${address}> ${text}`.trimEnd());
}
