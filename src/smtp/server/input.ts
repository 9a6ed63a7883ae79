// DATA's message text on its way into the handler's sink: dot-stuffed text read from the
// session's input (kernel/input.ts) through a DataDecoder holding it to the command's limits and
// declared content, written to the sink with backpressure. Everything here is untrusted: a
// broken rule, a failed write or a vanished client aborts the sink, so nothing half-received is
// kept; the whole text is still read so the session stays in step with the client.
import type { Settings } from "../../config/settings.js";
import type { Log } from "../../log/logger.js";
import { DATA_ERROR_REPLIES, DataDecoder, type ContentRules } from "../../proto/dataframe.js";
import { REPLIES, type Reply } from "../../proto/reply.js";
import type { MessageSink } from "../handler.js";
import type { LineInput } from "../kernel/input.js";

export interface DataOwner {
  readonly input: LineInput;
  readonly limits: Settings["smtp"];
  log(): Log;
  safely<T>(what: string, call: () => Promise<T>): Promise<T | null>;
}

/** The final reply to DATA, or null when the client went away (the sink is then aborted). */
export async function receiveData(
  o: DataOwner,
  sink: MessageSink,
  content: ContentRules,
): Promise<Reply | null> {
  const dec = new DataDecoder({
    maxBytes: o.limits.maxMessageSize,
    maxLine: o.limits.maxDataLine,
    header: o.limits,
    content,
  });
  let aborted = false;
  let writeFailed = false;
  const abort = async (): Promise<void> => {
    if (aborted) return;
    aborted = true;
    await o.safely("abort", () => sink.abort());
  };
  const complete = await o.input.readDotted(dec, async (data) => {
    if (dec.error !== null || writeFailed) return abort();
    if (data.length === 0) return;
    try {
      await sink.write(data);
    } catch (e) {
      o.log().problem("message write failed", { error: e instanceof Error ? e.message : String(e) });
      writeFailed = true;
      await abort();
    }
  });
  if (!complete) {
    await abort();
    return null;
  }
  if (writeFailed) return REPLIES.queueWriteFailed;
  if (dec.error !== null) {
    o.log().problem("message refused", {
      reason: dec.error,
      bytes: dec.bytes,
      longestLine: dec.longestLine,
    });
    return DATA_ERROR_REPLIES[dec.error];
  }
  return (await o.safely("end", () => sink.end())) ?? REPLIES.queueWriteFailed;
}
