// Who gets which report (RFC 3461 §4.1): NEVER means none; an explicit list means exactly those
// conditions; no NOTIFY means failures and, like Postfix's delay_warning, delay warnings too.
// The null sender never gets a report (RFC 5321 §4.5.5: no bounce loops).
import type { Envelope, EnvelopeRecipient } from "./envelope.js";

export type NotifyCondition = "SUCCESS" | "FAILURE" | "DELAY";

export function wantsReport(envelope: Envelope, rcpt: EnvelopeRecipient, cond: NotifyCondition): boolean {
  if (envelope.returnPath === "") return false;
  const n = rcpt.notify;
  if (n === "NEVER") return false;
  if (n === null) return cond !== "SUCCESS";
  return n.includes(cond);
}
