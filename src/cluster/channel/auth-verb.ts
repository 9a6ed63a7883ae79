// AUTH X-MAILYARD-HMAC on the delivery channel's LMTP listener (an extra verb of the LMTP verb
// set): the peer proves it holds the cluster secret for the nonce of this session's greeting
// (auth.ts). Until it has, MAIL, RCPT and DATA get 530 (requireAuth of the LMTP verbs). The
// argument is untrusted; a failure logs the node id the peer claimed, never the proof.
import { REPLIES, type Reply } from "../../proto/reply.js";
import type { SessionApi, Verb } from "../../smtp/server/verb.js";
import { AUTH_MECHANISM, checkAuth } from "./auth.js";

export function clusterAuth(secret: string | null): Verb {
  return {
    name: "AUTH",
    advertise: () => (secret === null ? [] : [`AUTH ${AUTH_MECHANISM}`]),
    run(s: SessionApi, arg: string): Promise<void> {
      s.reply(answer(s, secret, arg));
      return Promise.resolve();
    },
  };
}

function answer(s: SessionApi, secret: string | null, arg: string): Reply {
  if (s.helo === null) return REPLIES.needLhlo;
  if (secret === null) return REPLIES.notImplemented;
  if (s.authUser !== null) return REPLIES.alreadyAuth;
  if (s.tx !== null) return REPLIES.authInTransaction;
  const r = checkAuth(secret, s.challenge ?? "", arg);
  if (!r.ok) {
    s.log.problem("authentication failed", { node: r.nodeId ?? "", code: r.reply.code });
    return r.reply;
  }
  s.authUser = r.nodeId;
  s.log.info("authenticated", { node: r.nodeId });
  return REPLIES.authOk;
}
