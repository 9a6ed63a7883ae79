// Authentication between cluster members with the shared cluster secret. The secret never
// crosses the wire: a member proves it knows it by an HMAC-SHA256 over a challenge (the
// delivery channel's per-connection nonce) or over the request (the cluster API: method, path,
// timestamp and a digest of the body). Comparison is constant-time.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The smallest secret accepted: shorter ones are guessable offline from one captured proof. */
export const MIN_SECRET_LENGTH = 16;

export function checkSecret(secret: string): string | null {
  if (secret.length < MIN_SECRET_LENGTH) {
    return `cluster.secret must be at least ${MIN_SECRET_LENGTH} characters (set it to the same value on every member)`;
  }
  return null;
}

/** HMAC-SHA256 of the parts, joined with newlines, as lower-case hex. */
/** Printable ASCII without spaces: node ids travel as one token of a command line (the delivery
 * channel's AUTH, XMEMBER). */
const WIRE_NODE_ID = /^[\x21-\x7e]{1,128}$/;
export const isWireNodeId = (id: string): boolean => WIRE_NODE_ID.test(id);

export function proof(secret: string, ...parts: readonly string[]): string {
  return createHmac("sha256", secret).update(parts.join("\n")).digest("hex");
}

/** True when `given` is the proof of the parts; constant-time for equal lengths. */
export function verifyProof(secret: string, given: string, ...parts: readonly string[]): boolean {
  const want = Buffer.from(proof(secret, ...parts), "utf8");
  const got = Buffer.from(given, "utf8");
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A fresh challenge for one connection (hex, 128 bits). */
export function nonce(): string {
  return randomBytes(16).toString("hex");
}

export function sha256Hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}
