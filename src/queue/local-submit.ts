// The Locally path of the Submit Messages setting: the message goes into this node's own queue.
// Operational failures (queue full, disk errors) become 4xx replies, so a source keeps its copy
// and tries again; an empty recipient list is the caller's mistake and gets a 5xx.
import { REPLIES } from "../proto/reply.js";
import type { Log } from "../log/logger.js";
import type { SubmitResult, Submitter } from "./submit.js";
import type { Queue } from "./types.js";
import { RuleRejected } from "./rules-gate.js";

export function localSubmitter(
  queue: Pick<Queue, "submit" | "size">,
  o: {
    readonly nodeId: string;
    readonly maxMessages: number;
    /** Tag SUBMIT. */
    readonly log: Log;
  },
): Submitter {
  return {
    async submit(draft, message): Promise<SubmitResult> {
      if (draft.recipients.length === 0) return { ok: false, reply: REPLIES.noValidRecipients };
      if (queue.size() >= o.maxMessages) return { ok: false, reply: REPLIES.localQueueFull };
      try {
        const env = await queue.submit(draft, message);
        o.log.low("submitted locally", { id: env.id, source: draft.source, nrcpt: draft.recipients.length });
        return { ok: true, id: env.id, node: o.nodeId, remote: false };
      } catch (e) {
        if (e instanceof RuleRejected)
          return { ok: false, reply: REPLIES.ruleRejected({ text: e.text.replace(/[\r\n]+/g, " ") }) };
        o.log.failure("local submit failed", { source: draft.source, error: String(e) });
        return { ok: false, reply: REPLIES.localError };
      }
    },
  };
}
