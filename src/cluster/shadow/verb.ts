// The receiving side of shadow copies: XSHADOW on a member's SMTP listener, for sessions that
// have passed XMEMBER (submit/verbs.ts) only. The batch is stored in the shadow directory
// (store.ts) under the authenticated member's id, never under an id the batch names, and the
// 250 is sent only once it is fsync'd: the primary answers its own client's 250 on it.
//
//   C: XSHADOW <bytes>, then exactly that many raw bytes: shadow records (records.ts)
//   S: 250 2.0.0 <n> shadow records stored | 452 4.3.1 shadow store full | 451 | 554
import type { Log } from "../../log/logger.js";
import { REPLIES } from "../../proto/reply.js";
import type { SessionApi, Verb } from "../../smtp/server/verb.js";
import { memberVerb } from "../member-verb.js";
import type { ShadowStore } from "./store.js";

export const SHADOW_VERB = "XSHADOW";
const SIZE = /^\d{1,12}$/;

export const shadowCommand = (bytes: number): string => `${SHADOW_VERB} ${bytes}\r\n`;

export function shadowVerb(o: {
  readonly store: ShadowStore;
  /** Largest batch taken: a few messages of smtp.maxMessageSize. */
  readonly maxBatch: number;
  readonly memberOf: (s: SessionApi) => string | undefined;
  /** Tag QUEUE. */
  readonly log: Log;
}): Verb {
  return memberVerb({
    name: SHADOW_VERB,
    memberOf: o.memberOf,
    what: "shadow copies",
    log: o.log,
    async run(s, arg, from) {
      if (!SIZE.test(arg)) return s.quit(REPLIES.paramSyntax);
      const size = Number(arg);
      if (size > o.maxBatch) return s.quit(REPLIES.messageTooBig);
      const parts: Buffer[] = [];
      if (!(await s.receiveBytes(size, (p) => (parts.push(p), Promise.resolve())))) return;
      let r;
      try {
        r = await o.store.apply(from, Buffer.concat(parts, size));
      } catch (e) {
        o.log.failure("shadow copies not stored", { node: from, error: String(e) });
        return s.reply(REPLIES.shadowWriteFailed);
      }
      if (r.ok) return s.reply(REPLIES.shadowsStored({ count: String(r.records) }));
      if (r.why === "full") {
        o.log.problem("shadow store full, copies refused", { node: from, held: o.store.count() });
        return s.reply(REPLIES.shadowStoreFull);
      }
      o.log.problem("shadow batch refused", { node: from, reason: r.why });
      s.reply(REPLIES.shadowBatchBad({ why: r.why }));
    },
  });
}
