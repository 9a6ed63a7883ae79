// Request and reply authentication for the cluster API with the cluster secret (secret.ts).
// A request carries its sender's node id, its time and an HMAC over method, path, time, node id
// and a digest of the body, so a proof cannot be moved to another request, altered or replayed
// outside the clock-skew window. The reply carries an HMAC over its status, the request's proof
// and its body, so a frontend believes only a member (a process that grabbed a backend's port
// without the secret cannot answer "this password is right"). Header values are untrusted and
// checked for shape before any digest is computed.
import type { IncomingHttpHeaders } from "node:http";
import { proof, sha256Hex, verifyProof } from "../secret.js";
import { HEADERS, MAX_CLOCK_SKEW_MS } from "./types.js";

const NODE_ID = /^[\x21-\x7e]{1,256}$/;
const TIME = /^[0-9]{1,16}$/;
const PROOF = /^[0-9a-f]{64}$/;

export const validNodeId = (id: string): boolean => NODE_ID.test(id);

/** The headers that authenticate one request. */
export function signRequest(
  secret: string,
  nodeId: string,
  method: string,
  path: string,
  time: number,
  body: Buffer | string,
): Record<string, string> {
  const t = String(time);
  return {
    [HEADERS.node]: nodeId,
    [HEADERS.time]: t,
    [HEADERS.proof]: proof(secret, "api", method, path, t, nodeId, sha256Hex(body)),
  };
}

export interface ClaimedSender {
  readonly nodeId: string;
  readonly time: string;
  readonly proof: string;
}

const single = (v: string | string[] | undefined): string | null => (typeof v === "string" ? v : null);

/**
 * The sender's claim when the headers are well formed and the time is within the skew window
 * of `now`, else why not. Done before the body is read, so stale or unsigned requests cost
 * nothing more.
 */
export function checkHeaders(headers: IncomingHttpHeaders, now: number): ClaimedSender | string {
  const nodeId = single(headers[HEADERS.node]);
  const time = single(headers[HEADERS.time]);
  const given = single(headers[HEADERS.proof]);
  if (nodeId === null || time === null || given === null) return "missing authentication headers";
  if (!NODE_ID.test(nodeId) || !TIME.test(time) || !PROOF.test(given))
    return "malformed authentication headers";
  if (Math.abs(now - Number(time)) > MAX_CLOCK_SKEW_MS) return "request time outside the allowed clock skew";
  return { nodeId, time, proof: given };
}

/** True when the claim's proof covers exactly this method, path and body. */
export function checkProof(
  secret: string,
  claim: ClaimedSender,
  method: string,
  path: string,
  body: Buffer,
): boolean {
  return verifyProof(secret, claim.proof, "api", method, path, claim.time, claim.nodeId, sha256Hex(body));
}

export function replyProof(
  secret: string,
  status: number,
  requestProof: string,
  body: Buffer | string,
): string {
  return proof(secret, "api-reply", String(status), requestProof, sha256Hex(body));
}

export function checkReply(
  secret: string,
  given: string | undefined,
  status: number,
  requestProof: string,
  body: Buffer,
): boolean {
  if (given === undefined || !PROOF.test(given)) return false;
  return verifyProof(secret, given, "api-reply", String(status), requestProof, sha256Hex(body));
}
