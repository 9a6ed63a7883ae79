// The SMTP verbs only an authenticated cluster member may use (XSUBMIT, XSHADOW): a session that
// has not passed XMEMBER (submit/verbs.ts) is logged and closed with 530 before the verb reads a
// byte of what it would send.
import type { Log } from "../log/logger.js";
import { REPLIES } from "../proto/reply.js";
import type { SessionApi, Verb } from "../smtp/server/verb.js";

export interface MemberVerb {
  readonly name: string;
  readonly advertise?: Verb["advertise"];
  /** Which member a session authenticated as, if any. */
  readonly memberOf: (s: SessionApi) => string | undefined;
  /** "remote submit", "shadow copies": what the refusal's log line calls it. */
  readonly what: string;
  readonly log: Log;
  /** The verb itself, for member `from`. */
  run(s: SessionApi, arg: string, from: string): Promise<void>;
}

export function memberVerb(o: MemberVerb): Verb {
  return {
    name: o.name,
    ...(o.advertise !== undefined ? { advertise: o.advertise } : {}),
    async run(s, arg) {
      const from = o.memberOf(s);
      if (from === undefined) {
        o.log.problem(`${o.what} refused: not an authenticated member`, { client: s.info().remote.address });
        return s.quit(REPLIES.membersOnly);
      }
      return o.run(s, arg, from);
    },
  };
}
