// The client side of SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN (the de-facto
// mechanism of draft-murchison-sasl-login), for relaying through a smarthost: which mechanism to
// use and the lines to send. No I/O; the exchange itself is in authenticate.ts. Only these two:
// they carry the password itself, which is why the session sends them over TLS only.

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export type SaslMechanism = "PLAIN" | "LOGIN";

/** PLAIN when offered (one round trip), else LOGIN, else none we can use. */
export function chooseMechanism(offered: readonly string[]): SaslMechanism | null {
  if (offered.includes("PLAIN")) return "PLAIN";
  if (offered.includes("LOGIN")) return "LOGIN";
  return null;
}

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

/**
 * RFC 4616 §2: authzid (empty: act as the user), NUL, authcid, NUL, password; sent as the initial
 * response of the AUTH command (RFC 4954 §4), so the exchange is one round trip.
 */
export const plainCommand = (c: Credentials): string =>
  `AUTH PLAIN ${b64(`\0${c.username}\0${c.password}`)}\r\n`;

/** LOGIN: the command, then the user name and the password, each answering a 334 challenge. */
export const loginCommand = "AUTH LOGIN\r\n";
export const loginUser = (c: Credentials): string => `${b64(c.username)}\r\n`;
export const loginPassword = (c: Credentials): string => `${b64(c.password)}\r\n`;

/** RFC 4954 §4: a client cancels an exchange it cannot go on with by sending "*". */
export const cancelLine = "*\r\n";
