// The remote-submit extension on the SMTP port (DESIGN.md §4): how one member hands a whole
// queue file (envelope + message) to a member that is Locally for Others. No I/O.
//
//   C: XMEMBER <node-id>            S: 334 <nonce>
//   C: <proof>                      S: 235 2.7.0 ...   (proof = HMAC(secret, "submit", nonce, id))
//   C: XSUBMIT <env-bytes> <msg-bytes>, then exactly that many raw bytes: the envelope as JSON,
//      then the message
//   S: 250 2.0.0 queued as <id>     only once the receiver's queue file is fsync'd
//
// XMEMBER is not advertised; XSUBMIT is advertised in EHLO only to a session that has passed
// XMEMBER, and refused (530) to any other, so nothing outside the cluster can enqueue this way.
// The proof is bound to the connection's nonce and to this purpose, so a captured proof, or one
// made for the delivery channel or the cluster API, is worth nothing here.
import { proof, verifyProof } from "../secret.js";

export const MEMBER_VERB = "XMEMBER";
export const SUBMIT_VERB = "XSUBMIT";
const PURPOSE = "submit";
const PROOF = /^[0-9a-f]{64}$/;

export const memberProof = (secret: string, nonce: string, nodeId: string): string =>
  proof(secret, PURPOSE, nonce, nodeId);

export const checkMemberProof = (secret: string, given: string, nonce: string, nodeId: string): boolean =>
  PROOF.test(given) && verifyProof(secret, given, PURPOSE, nonce, nodeId);

const SIZES = /^(\d{1,12}) (\d{1,12})$/;

/** The two sizes of an XSUBMIT argument, or null when it is not two decimal numbers. */
export function parseSubmitSizes(arg: string): { envelope: number; message: number } | null {
  const m = SIZES.exec(arg.trim());
  if (m === null) return null;
  return { envelope: Number(m[1]), message: Number(m[2]) };
}

export const submitCommand = (envelope: Buffer, message: Buffer): string =>
  `${SUBMIT_VERB} ${envelope.length} ${message.length}\r\n`;
