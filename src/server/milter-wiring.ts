// Where milters plug into a node (src/inbound/milters.ts): the options from smtp.milters (null
// when there are none), and the XSUBMIT hand-over of a frontend, whose mail from a Remotely
// backend was not filtered there and is filtered here before it is queued.
import type { Settings } from "../config/settings.js";
import { filterWhole, type MilterOptions } from "../inbound/milters.js";
import { milterSpecs } from "../inbound/milter/spec.js";
import type { Log, LogSink } from "../log/logger.js";
import type { Metrics } from "../log/metrics.js";
import { REPLIES, type Reply } from "../proto/reply.js";
import { RuleRejected } from "../queue/rules-gate.js";
import type { EnvelopeDraft, Queue } from "../queue/types.js";
import type { Clock } from "../world/clock.js";

export function milterOptions(
  settings: Settings,
  clock: Clock,
  log: LogSink,
  metrics: Metrics,
): MilterOptions | null {
  const specs = milterSpecs(settings);
  if (specs.length === 0) return null;
  return { specs, hostname: settings.hostname, clock, log: log.for("SMTPI"), metrics };
}

/** A remote submission through the milters, then into this node's queue (held on quarantine). */
export async function filteredAccept(
  milters: MilterOptions,
  queue: Queue,
  draft: EnvelopeDraft,
  message: Buffer,
  from: string,
  log: Log,
): Promise<Reply> {
  const r = await filterWhole(milters, draft, message);
  if (r.kind === "discard") {
    log.major("remote submission discarded by milter", { from, source: draft.source });
    return REPLIES.ok;
  }
  if (r.kind !== "deliver") return r.reply;
  const incoming = await queue.begin();
  if (incoming === "full") return REPLIES.queueFull;
  try {
    await incoming.write(r.message);
    const env = await incoming.commit(r.draft, { held: r.hold !== null });
    log.low("remote submission queued", { from, id: env.id, source: draft.source, held: r.hold !== null });
    return REPLIES.queuedAs({ id: env.id });
  } catch (e) {
    await incoming.abort().catch(() => undefined);
    if (e instanceof RuleRejected)
      return REPLIES.ruleRejected({ text: e.text.replace(/[\r\n]+/g, " ").slice(0, 400) });
    log.failure("enqueue failed", { error: String(e) });
    return REPLIES.queueWriteFailed;
  }
}
