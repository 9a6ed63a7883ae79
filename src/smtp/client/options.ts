// What the SMTP client needs to know from the settings (smtp.outbound.*), in milliseconds.
import type { Settings } from "../../config/settings.js";

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
}

export function clientOptions(settings: Settings, hostname: string): ClientOptions {
  const o = settings.smtp.outbound;
  return {
    helo: o.helo !== "" ? o.helo : hostname,
    starttls: o.starttls,
    connectTimeoutMs: o.connectTimeoutSeconds * 1000,
    commandTimeoutMs: o.commandTimeoutSeconds * 1000,
    dataTimeoutMs: o.dataTimeoutSeconds * 1000,
    chunking: o.chunking,
  };
}
