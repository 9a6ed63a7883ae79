// The receiving side of remote submit (wire.ts): the XMEMBER and XSUBMIT verbs added to a
// member's SMTP listener. The queue file is made durable through `accept` (this node's own
// queue) before the 250, so the sender may drop its copy on that reply. Everything a client
// sends here is untrusted until XMEMBER has passed; an unauthenticated XSUBMIT is answered and
// the connection closed without reading the bytes it announced.
import { isWireNodeId } from "../secret.js";
import type { Log } from "../../log/logger.js";
import { REPLIES, reply, type Reply } from "../../proto/reply.js";
import { checkDraft } from "../../queue/queue-file.js";
import type { EnvelopeDraft } from "../../queue/types.js";
import type { SessionApi, Verb } from "../../smtp/server/verb.js";
import { checkMemberProof, MEMBER_VERB, parseSubmitSizes, SUBMIT_VERB } from "./wire.js";
import { memberVerb } from "../member-verb.js";

/** An envelope is a few hundred bytes per recipient; this bounds what we buffer before checking it. */
const MAX_ENVELOPE = 4 * 1024 * 1024;
/** Room over smtp.maxMessageSize for the trace headers the first receiver added. */
const HEADER_ALLOWANCE = 64 * 1024;

export interface RemoteSubmitVerbsOptions {
  readonly secret: string;
  readonly nonce: () => string;
  readonly maxMessageSize: number;
  /** Tag SUBMIT. */
  readonly log: Log;
  /** Make the message durable in this node's queue: 250 with the id, or why not. */
  readonly accept: (draft: EnvelopeDraft, message: Buffer, from: string) => Promise<Reply>;
  /**
   * More verbs for authenticated members only (the shadow copies' XSHADOW), given who a session
   * has authenticated as (undefined: nobody yet).
   */
  readonly memberVerbs?: (memberOf: (s: SessionApi) => string | undefined) => readonly Verb[];
}

export function remoteSubmitVerbs(o: RemoteSubmitVerbsOptions): Verb[] {
  // The member a session has authenticated as; sessions are the verbs' `s` (stable per connection).
  const members = new WeakMap<SessionApi, string>();

  const xmember: Verb = {
    name: MEMBER_VERB,
    async run(s, arg) {
      if (s.helo === null || !s.esmtp) return s.reply(REPLIES.needHelo);
      if (members.has(s)) return s.reply(REPLIES.badSequence);
      const id = arg.trim();
      if (!isWireNodeId(id)) return s.reply(REPLIES.paramSyntax);
      const nonce = o.nonce();
      s.reply(reply(334, null, nonce));
      const line = await s.readLine();
      if (line === null) return;
      const given = line.kind === "tooLong" ? "" : line.text.toString("latin1").trim();
      if (!checkMemberProof(o.secret, given, nonce, id)) {
        o.log.problem("remote submit: member authentication failed", {
          node: id,
          client: s.info().remote.address,
        });
        return s.reply(REPLIES.authFailed);
      }
      members.set(s, id);
      o.log.info("remote submit: member authenticated", { node: id });
      s.reply(REPLIES.memberAuthenticated({ id }));
    },
  };

  const xsubmit = memberVerb({
    name: SUBMIT_VERB,
    advertise: (s) => (members.has(s) ? [SUBMIT_VERB] : []),
    memberOf: (s) => members.get(s),
    what: "remote submit",
    log: o.log,
    async run(s, arg, from) {
      const sizes = parseSubmitSizes(arg);
      if (sizes === null) return s.quit(REPLIES.paramSyntax);
      if (sizes.envelope > MAX_ENVELOPE || sizes.message > o.maxMessageSize + HEADER_ALLOWANCE)
        return s.quit(REPLIES.messageTooBig);
      if (s.tx !== null) return s.quit(REPLIES.badSequence);
      const parts: Buffer[] = [];
      if (!(await s.receiveBytes(sizes.envelope + sizes.message, (p) => (parts.push(p), Promise.resolve()))))
        return;
      const all = Buffer.concat(parts);
      let draft: EnvelopeDraft | string;
      try {
        draft = checkDraft(JSON.parse(all.subarray(0, sizes.envelope).toString("utf8")));
      } catch {
        draft = "envelope is not JSON";
      }
      if (typeof draft === "string") {
        o.log.problem("remote submit refused: bad envelope", { node: from, reason: draft });
        return s.reply(REPLIES.badEnvelope({ why: draft }));
      }
      s.reply(await o.accept(draft, all.subarray(sizes.envelope), from));
    },
  });

  return [xmember, xsubmit, ...(o.memberVerbs?.((s) => members.get(s)) ?? [])];
}
