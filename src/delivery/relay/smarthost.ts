// The session security for the host:port entries of smtp.forwardTo (smarthosts), from
// smtp.forwardTls, forwardVerify and the files of forward-files.ts. Verification means something
// only where TLS is required: opportunistic STARTTLS, which gives way to plaintext whenever the
// path strips the offer, never checks a certificate (as to MX hosts). No I/O.
import type { ForwardFiles } from "../../config/forward-files.js";
import type { Settings } from "../../config/settings.js";
import type { SessionSecurity } from "../../smtp/client/index.js";

export function smarthostSecurity(settings: Settings, files: ForwardFiles): SessionSecurity {
  const tls = settings.smtp.forwardTls;
  return {
    tls,
    verify: tls !== "opportunistic" && settings.smtp.forwardVerify ? { ca: files.ca } : null,
    credentials: files.credentials,
  };
}
