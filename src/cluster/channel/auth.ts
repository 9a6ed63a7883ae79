// Authentication on the delivery channel: the server's greeting carries a fresh nonce, and the
// client answers `AUTH X-MAILYARD-HMAC <nodeId> <proof>` where the proof is the HMAC of the
// cluster secret over ("lmtp", nonce, nodeId) (src/cluster/secret.ts). The secret never crosses
// the wire, and a proof is worth nothing on another connection (other nonce). The server's side
// reads untrusted text; nothing here throws for bad input. No I/O.
import { isWireNodeId, proof, verifyProof } from "../secret.js";
import { REPLIES, type Reply } from "../../proto/reply.js";

export const AUTH_MECHANISM = "X-MAILYARD-HMAC";
/** Binds a proof to this link, so a proof made for another purpose (the cluster API) is useless here. */
const PURPOSE = "lmtp";
const NONCE = /^[0-9a-f]{32}$/;
const PROOF = /^[0-9a-f]{64}$/;

export { isWireNodeId };

/** The text of the 220 greeting (the nonce is its last word). */
export const greetingText = (host: string, nonce: string): string =>
  REPLIES.lmtpGreeting({ host, nonce }).text;

/** The nonce in a greeting's text, or null when there is none (not a Mailyard server). */
export function nonceOf(greeting: string): string | null {
  const last = greeting.trim().split(/\s+/).at(-1) ?? "";
  return NONCE.test(last) ? last : null;
}

/** The AUTH command line (CRLF included). */
export function authCommand(secret: string, nonce: string, nodeId: string): string {
  return `AUTH ${AUTH_MECHANISM} ${nodeId} ${proof(secret, PURPOSE, nonce, nodeId)}\r\n`;
}

/** True when an LHLO reply offers our mechanism. */
export function offersAuth(lhloText: string): boolean {
  return lhloText
    .split("\n")
    .slice(1)
    .some((line) => {
      const [keyword = "", ...mechs] = line.trim().toUpperCase().split(/\s+/);
      return keyword === "AUTH" && mechs.includes(AUTH_MECHANISM);
    });
}

export type AuthCheck =
  | { readonly ok: true; readonly nodeId: string }
  | { readonly ok: false; readonly reply: Reply; readonly nodeId: string | null };

/** Checks the argument of AUTH (everything after "AUTH "). */
export function checkAuth(secret: string, nonce: string, arg: string): AuthCheck {
  const parts = arg.split(" ");
  const [mech = "", nodeId, given, extra] = parts;
  if (mech.toUpperCase() !== AUTH_MECHANISM)
    return { ok: false, reply: REPLIES.authMechUnknown, nodeId: null };
  if (nodeId === undefined || given === undefined || extra !== undefined || !isWireNodeId(nodeId))
    return { ok: false, reply: REPLIES.paramSyntax, nodeId: null };
  if (!PROOF.test(given) || !verifyProof(secret, given, PURPOSE, nonce, nodeId))
    return { ok: false, reply: REPLIES.authFailed, nodeId };
  return { ok: true, nodeId };
}
