// The admin bearer token check shared by the admin API and the routes the message sources
// mount beside it (sendmail, RPOP): the token from dataDir/admin.token (src/admin/token.ts),
// compared in constant time. The header is untrusted text.
import { createHash, timingSafeEqual } from "node:crypto";

/** Constant-time comparison (hashes first, so lengths do not leak either). */
export function tokenMatches(given: string, expected: string): boolean {
  const h = (s: string): Buffer => createHash("sha256").update(s).digest();
  return timingSafeEqual(h(given), h(expected));
}
