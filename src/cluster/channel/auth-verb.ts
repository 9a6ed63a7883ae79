// AUTH X-MAILYARD-HMAC on the delivery channel's LMTP listener (an extra verb of the LMTP verb
// set): the peer proves it holds the cluster secret for the nonce of this session's greeting
// (auth.ts). Until it has, MAIL, RCPT and DATA get 530 (requireAuth of the LMTP verbs). The
// argument is untrusted; a failure logs the node id the peer claimed, never the proof.
import { REPLIES, type Reply } from "../../proto/reply.js";
import type { SessionApi, Verb } from "../../smtp/server/verb.js";
import { AUTH_MECHANISM, checkAuth } from "./auth.js";

/** With certificates, the node AUTH names must be the one the peer's member certificate names. */
export function clusterAuth(secret: string | null, certificates = false): Verb {
  return {
    name: "AUTH",
    advertise: () => (secret === null ? [] : [`AUTH ${AUTH_MECHANISM}`]),
    run(s: SessionApi, arg: string): Promise<void> {
      s.reply(answer(s, secret, arg, certificates));
      return Promise.resolve();
    },
  };
}

function answer(s: SessionApi, secret: string | null, arg: string, certificates: boolean): Reply {
  if (s.helo === null) return REPLIES.needLhlo;
  if (secret === null) return REPLIES.notImplemented;
  if (s.authUser !== null) return REPLIES.alreadyAuth;
  if (s.tx !== null) return REPLIES.authInTransaction;
  const r = checkAuth(secret, s.challenge ?? "", arg);
  if (!r.ok) {
    s.log.problem("authentication failed", { node: r.nodeId ?? "", code: r.reply.code });
    return r.reply;
  }
  const member = s.info().member ?? null;
  if (certificates && member !== r.nodeId) {
    s.log.problem("authentication failed: certificate names another node", {
      node: r.nodeId,
      certificate: member ?? "",
    });
    return REPLIES.authFailed;
  }
  s.authUser = r.nodeId;
  s.log.info("authenticated", { node: r.nodeId });
  return REPLIES.authOk;
}
