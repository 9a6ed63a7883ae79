// Judging a server certificate after the TLS handshake, by one of two authorities: the Web PKI
// (a chain to trusted CAs and the host's name, RFC 6125) or DANE TLSA records (RFC 7672 §3,
// RFC 7671): DANE-EE (3 x x) matches the leaf's certificate or public key and ignores names and
// dates (§3.1.1); DANE-TA (2 x x) matches a certificate the server sent in its chain, and the
// leaf must chain to it by signature, be within its dates and name the MX host (§3.1.2, §3.2.3).
// PKIX-TA and PKIX-EE (0 and 1) are unusable for SMTP (§3.1.3) and are filtered out before.
// A problem comes with its RFC 8460 result type, for the TLS reports. The certificates are the
// peer's: nothing in them is trusted before it matched.
import { X509Certificate, createHash } from "node:crypto";
import tls from "node:tls";
import type { TlsaRecord } from "../../proto/dns-message.js";

/** RFC 8460 §4.3 result types of a failed certificate check. */
export type CertificateResult =
  "certificate-expired" | "certificate-host-mismatch" | "certificate-not-trusted" | "tlsa-invalid";

export interface CertificateProblem {
  readonly result: CertificateResult;
  readonly text: string;
}

/** Longest chain walked: more certificates than any real chain carries. */
const MAX_CHAIN = 10;

/** TLSA records DANE for SMTP can use (RFC 7672 §3.1.3): DANE-TA and DANE-EE, known selector and matching. */
export function usableTlsa(records: readonly TlsaRecord[]): TlsaRecord[] {
  return records.filter(
    (r) =>
      (r.usage === 2 || r.usage === 3) &&
      (r.selector === 0 || r.selector === 1) &&
      (r.matching === 0 || r.matching === 1 || r.matching === 2),
  );
}

/** The Web PKI check: the chain Node verified against the CAs given, and the name, ours. */
export function pkixProblem(secure: tls.TLSSocket, name: string): CertificateProblem | null {
  // authorizationError is OpenSSL's code (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE), whatever its type
  // says. Node checks the name only once the chain verified, and against the SNI name (or
  // "localhost" without one, as for an address): its name verdict is replaced by ours.
  const code = secure.authorized ? null : String(secure.authorizationError ?? "unknown");
  if (code !== null && code !== "ERR_TLS_CERT_ALTNAME_INVALID") {
    const expired = code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID";
    return {
      result: expired ? "certificate-expired" : "certificate-not-trusted",
      text: `chain not trusted (${code})`,
    };
  }
  const mismatch = tls.checkServerIdentity(name, secure.getPeerCertificate());
  return mismatch === undefined ? null : { result: "certificate-host-mismatch", text: mismatch.message };
}

/** The DANE check against usable TLSA records (usableTlsa), at time `now` (ms). */
export function daneProblem(
  secure: tls.TLSSocket,
  records: readonly TlsaRecord[],
  name: string,
  now: number,
): CertificateProblem | null {
  const chain = peerChain(secure);
  const leaf = chain[0];
  if (leaf === undefined) return { result: "tlsa-invalid", text: "the server sent no certificate" };
  if (records.some((r) => r.usage === 3 && matches(leaf, r))) return null;
  const ta = records.filter((r) => r.usage === 2);
  for (let i = 1; i < chain.length; i++) {
    if (!ta.some((r) => matches(chain[i]!, r))) continue;
    if (!signedUpTo(chain, i)) continue;
    const stale = chain
      .slice(0, i + 1)
      .find((c) => Date.parse(c.validTo) < now || Date.parse(c.validFrom) > now);
    if (stale !== undefined)
      return { result: "certificate-expired", text: `certificate ${stale.subject} outside its dates` };
    const mismatch = tls.checkServerIdentity(name, secure.getPeerCertificate());
    if (mismatch !== undefined) return { result: "certificate-host-mismatch", text: mismatch.message };
    return null;
  }
  return { result: "tlsa-invalid", text: `no TLSA record matches the certificate chain of ${name}` };
}

/** The certificates as the server sent them, leaf first (a self-signed root ends the walk). */
function peerChain(secure: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let cur: tls.DetailedPeerCertificate | undefined = secure.getPeerCertificate(true);
  while (cur?.raw !== undefined && out.length < MAX_CHAIN) {
    const key = cur.raw.toString("base64");
    if (seen.has(key)) break;
    seen.add(key);
    try {
      out.push(new X509Certificate(cur.raw));
    } catch {
      break;
    }
    cur = cur.issuerCertificate;
  }
  return out;
}

/** Each certificate below index `top` is issued and signed by the next one up. */
function signedUpTo(chain: readonly X509Certificate[], top: number): boolean {
  for (let i = 0; i < top; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) return false;
  }
  return true;
}

function matches(cert: X509Certificate, r: TlsaRecord): boolean {
  const selected = r.selector === 0 ? cert.raw : cert.publicKey.export({ type: "spki", format: "der" });
  const digest =
    r.matching === 0
      ? selected
      : createHash(r.matching === 1 ? "sha256" : "sha512")
          .update(selected)
          .digest();
  return digest.length === r.data.length && Buffer.from(r.data).equals(digest);
}
