// One DKIM-Signature field (RFC 6376 §3.5; ed25519-sha256: RFC 8463 §3) from a header section
// and a body hash already computed (message-pass.ts), relaxed/relaxed, over mailauth's default
// field list, with mailauth's canonicalisation and formatting (mailauth-parts.ts says why not its
// dkimSign). What is ours: the private key is parsed once per key (a PEM parse cost as much as
// the signature itself), and the signature is made on libuv's thread pool (crypto.sign with a
// callback), so an RSA 2048 signature no longer takes the event loop that accepts and delivers.
import { createHash, createPrivateKey, sign, type KeyObject } from "node:crypto";
import type { DkimKey } from "./keys.js";
import { canonicalizedHeader, formatSignature, parseHeaders, signingHeaderLines } from "./mailauth-parts.js";

/** Identity of a key for caches: a new key under an old selector (remove, keygen) differs. */
export const keyId = (k: DkimKey): string => `${k.domain}\0${k.selector}\0${k.createdAt}`;

/** Parsed private keys by keyId; the PEM is compared too, so a changed key is never signed with stale. */
export function keyObjects(max = 1000): (k: DkimKey) => KeyObject {
  const parsed = new Map<string, { pem: string; key: KeyObject }>();
  return (k) => {
    const id = keyId(k);
    const hit = parsed.get(id);
    if (hit !== undefined && hit.pem === k.privateKey) return hit.key;
    if (parsed.size >= max) parsed.clear();
    const key = createPrivateKey({ key: k.privateKey, format: "pem" });
    parsed.set(id, { pem: k.privateKey, key });
    return key;
  };
}

const signOffLoop = (algorithm: string | null, data: Buffer, key: KeyObject): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    sign(algorithm, data, key, (e, signature) => (e !== null ? reject(e) : resolve(signature))),
  );

/** The signed field with its CRLF, ready to go in front of the message. */
export async function dkimSignatureField(
  header: Buffer,
  bodyHash: string,
  key: DkimKey,
  privateKey: KeyObject,
  signTime: Date,
): Promise<Buffer> {
  const rsa = key.algorithm === "rsa";
  const algorithm = rsa ? "rsa-sha256" : "ed25519-sha256";
  const lines = signingHeaderLines(parseHeaders(header));
  const { canonicalizedHeader: data, dkimHeaderOpts: tags } = canonicalizedHeader("DKIM", lines, {
    canonicalization: "relaxed/relaxed",
    algorithm,
    signingDomain: key.domain,
    selector: key.selector,
    bodyHash,
    signTime,
  });
  // RFC 8463 §3: Ed25519 signs the SHA-256 of the canonicalised header, not the header itself.
  const signature = rsa
    ? await signOffLoop("sha256", data, privateKey)
    : await signOffLoop(null, createHash("sha256").update(data).digest(), privateKey);
  return Buffer.from(formatSignature({ ...tags, b: signature.toString("base64") }).trim() + "\r\n");
}
