// Is this mail from a person? Auto-replies (vacation, Reply with) go only to human mail: never
// to the null sender, to mailer daemons, to mail marked Auto-Submitted (RFC 3834 §5), bulk or
// list Precedence, or list traffic (RFC 2369 List-* / RFC 2919 List-Id). Shared by the seed
// rules' Human Generated condition and by every auto-reply for loop protection.
import { fieldValues, type MessageView } from "./message.js";

const NON_HUMAN_SENDER =
  /^(mailer-daemon|postmaster|listserv|majordomo|owner-.*|.*-request|.*-bounces?|noreply|no-reply)@/i;

export function isHumanGenerated(view: MessageView): boolean {
  if (view.envelopeFrom === "" || NON_HUMAN_SENDER.test(view.envelopeFrom)) return false;
  for (const v of fieldValues(view, "Auto-Submitted")) {
    if (!/^\s*no\b/i.test(v)) return false;
  }
  for (const v of fieldValues(view, "Precedence")) {
    if (/^\s*(bulk|list|junk)\b/i.test(v)) return false;
  }
  if (view.headers.some((h) => /^list-/i.test(h.name))) return false;
  return true;
}
