// What the SMTP client needs to know from the settings (smtp.outbound.*), in milliseconds.
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type { Settings } from "../../config/settings.js";
import { toAsciiDomain } from "../../proto/idna.js";

const asciiHelo = (name: string): string => toAsciiDomain(name) ?? name;

export interface ClientOptions {
  /** Name we give in EHLO/HELO. */
  readonly helo: string;
  /** Try STARTTLS when offered (opportunistic, certificates not verified). */
  readonly starttls: boolean;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** For the reply after end of data (RFC 5321 §4.5.3.2.6). */
  readonly dataTimeoutMs: number;
  /** Send the message with BDAT (RFC 3030) when the server offers CHUNKING and PIPELINING. */
  readonly chunking: boolean;
  /**
   * The CAs a server certificate must chain to for the connection to count as verified (the
   * system's, plus smtp.outbound.caFile); undefined: Node's built-in list.
   */
  readonly ca?: readonly string[];
  /** Speak LMTP (RFC 2033): LHLO, no HELO fallback, one final reply per accepted recipient. */
  readonly lmtp?: boolean;
}

export function clientOptions(settings: Settings, hostname: string): ClientOptions {
  const o = settings.smtp.outbound;
  const extra = o.caFile === "" ? null : readFileSync(o.caFile, "utf8");
  return {
    ...(extra !== null ? { ca: [...rootCertificates, extra] } : {}),
    // RFC 6531 §3.7.1: an internationalised EHLO name goes as A-labels.
    helo: asciiHelo(o.helo !== "" ? o.helo : hostname),
    starttls: o.starttls,
    connectTimeoutMs: o.connectTimeoutSeconds * 1000,
    commandTimeoutMs: o.commandTimeoutSeconds * 1000,
    dataTimeoutMs: o.dataTimeoutSeconds * 1000,
    chunking: o.chunking,
  };
}
