// Request and reply authentication for the cluster API with the cluster secret (secret.ts).
// A request carries its sender's and its receiver's node ids, its time, a random nonce and an
// HMAC over method, path, time, both ids, nonce and a digest of the body, so a proof cannot be
// moved to another request or another member, or altered; it is refused when older than 15 s or
// dated more than 5 s ahead, and inside that window the receiver accepts each nonce once
// (replay.ts; each member remembers its own, which is enough since each is named as receiver). The reply carries an HMAC over its status, the request's proof
// and its body, so a frontend believes only a member (a process that grabbed a backend's port
// without the secret cannot answer "this password is right"). Header values are untrusted and
// checked for shape before any digest is computed.
import type { IncomingHttpHeaders } from "node:http";
import { nonce as freshNonce, proof, sha256Hex, verifyProof } from "../secret.js";
import { createReplayGuard, type Admission, type ReplayGuard } from "./replay.js";
import { HEADERS, MAX_REQUEST_AGE_MS, MAX_REQUEST_AHEAD_MS } from "./types.js";

const NODE_ID = /^[\x21-\x7e]{1,256}$/;
const TIME = /^[0-9]{1,16}$/;
const PROOF = /^[0-9a-f]{64}$/;
const NONCE = /^[0-9a-f]{32}$/;

export const validNodeId = (id: string): boolean => NODE_ID.test(id);

/**
 * The headers that authenticate one request from member `nodeId` to member `to`; `nonce` is
 * fresh randomness unless given (tests).
 */
export function signRequest(
  secret: string,
  nodeId: string,
  to: string,
  method: string,
  path: string,
  time: number,
  body: Buffer | string,
  nonce: string = freshNonce(),
): Record<string, string> {
  const t = String(time);
  return {
    [HEADERS.node]: nodeId,
    [HEADERS.to]: to,
    [HEADERS.time]: t,
    [HEADERS.nonce]: nonce,
    [HEADERS.proof]: proof(secret, "api", method, path, t, nodeId, to, nonce, sha256Hex(body)),
  };
}

export interface ClaimedSender {
  readonly nodeId: string;
  /** The receiver named by the sender: the checking member itself. */
  readonly to: string;
  readonly time: string;
  readonly nonce: string;
  readonly proof: string;
}

const single = (v: string | string[] | undefined): string | null => (typeof v === "string" ? v : null);

/**
 * The sender's claim when the headers are well formed, name `self` as the receiver and the time
 * is within the window around `now`, else why not. Done before the body is read, so stale,
 * misdirected or unsigned requests cost nothing more.
 */
export function checkHeaders(
  headers: IncomingHttpHeaders,
  now: number,
  self: string,
): ClaimedSender | string {
  const nodeId = single(headers[HEADERS.node]);
  const to = single(headers[HEADERS.to]);
  const time = single(headers[HEADERS.time]);
  const nonce = single(headers[HEADERS.nonce]);
  const given = single(headers[HEADERS.proof]);
  if (nodeId === null || to === null || time === null || nonce === null || given === null)
    return "missing authentication headers";
  if (!NODE_ID.test(nodeId) || !TIME.test(time) || !NONCE.test(nonce) || !PROOF.test(given))
    return "malformed authentication headers";
  // Another member's request replayed here would pass this member's replay memory.
  if (to !== self) return "request for another member";
  const age = now - Number(time);
  if (age > MAX_REQUEST_AGE_MS) return "request too old";
  if (-age > MAX_REQUEST_AHEAD_MS) return "request dated in the future";
  return { nodeId, to, time, nonce, proof: given };
}

/** Why a request whose proof verified is still refused, or null: its first use. */
export function checkOnce(
  guard: ReplayGuard,
  claim: ClaimedSender,
  now: number,
): Exclude<Admission, "fresh"> | null {
  const a = guard.admit(claim.nonce, Number(claim.time), now);
  return a === "fresh" ? null : a;
}

/** The replay guard for requests checkHeaders admits: a nonce is held while its time could pass. */
export const requestReplayGuard = (): ReplayGuard => createReplayGuard(MAX_REQUEST_AGE_MS);

/** True when the claim's proof covers exactly this method, path and body. */
export function checkProof(
  secret: string,
  claim: ClaimedSender,
  method: string,
  path: string,
  body: Buffer,
): boolean {
  return verifyProof(
    secret,
    claim.proof,
    "api",
    method,
    path,
    claim.time,
    claim.nodeId,
    claim.to,
    claim.nonce,
    sha256Hex(body),
  );
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
