// The Locally path of the Submit Messages setting: the message goes into this node's own queue.
// Operational failures (queue full, disk errors) become 4xx replies, so a source keeps its copy
// and tries again; an empty recipient list is the caller's mistake and gets a 5xx.
import { reply } from "../proto/reply.js";
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
      if (draft.recipients.length === 0)
        return { ok: false, reply: reply(554, "5.5.1", "No valid recipients") };
      if (queue.size() >= o.maxMessages)
        return { ok: false, reply: reply(452, "4.3.1", "Queue full, try again later") };
      try {
        const env = await queue.submit(draft, message);
        o.log.low("submitted locally", { id: env.id, source: draft.source, nrcpt: draft.recipients.length });
        return { ok: true, id: env.id, node: o.nodeId, remote: false };
      } catch (e) {
        if (e instanceof RuleRejected)
          return { ok: false, reply: reply(550, "5.7.1", e.text.replace(/[\r\n]+/g, " ")) };
        o.log.failure("local submit failed", { source: draft.source, error: String(e) });
        return { ok: false, reply: reply(451, "4.3.0", "Local error in processing, try again later") };
      }
    },
  };
}
