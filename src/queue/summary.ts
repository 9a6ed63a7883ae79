// The operator's view of a queued message (admin API, CLI): no bodies, replies as one line.
import type { Envelope, MessageState, RecipientState } from "./envelope.js";
import type { QueueEntrySummary } from "./types.js";

export function summarize(
  envelope: Envelope,
  state: MessageState,
  recipients: readonly RecipientState[],
): QueueEntrySummary {
  return {
    id: envelope.id,
    from: envelope.returnPath,
    arrival: envelope.arrival,
    size: envelope.size,
    state,
    source: envelope.source,
    recipients: recipients.map((r, i) => ({
      address: envelope.recipients[i]?.address ?? "",
      status: r.status,
      attempts: r.attempts,
      nextAttempt: r.nextAttempt,
      lastReply:
        r.lastReply === null
          ? null
          : `${r.lastReply.code}${r.lastReply.enhanced !== null ? ` ${r.lastReply.enhanced}` : ""} ${r.lastReply.text}`,
      lastRelay: r.lastRelay,
    })),
  };
}
