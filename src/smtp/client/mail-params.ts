// The MAIL FROM and RCPT TO command lines for one transaction, with only the parameters the
// server announced (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8, RFC 3461 DSN), addresses
// with A-label domains for a server without SMTPUTF8, and the checks that make a message
// undeliverable to this server before anything is sent. No I/O.
import { isAscii, toAsciiAddress } from "../../proto/idna.js";
import { REPLIES, type Reply } from "../../proto/reply.js";
import type { OutboundMessage, OutboundRecipient } from "./message.js";
import type { Extensions } from "./extensions.js";
import { xtextEncode } from "../../proto/params.js";

/**
 * Whether the body goes to this server as BDAT chunks (RFC 3030): offered, allowed by the
 * settings, and pipelined (the chunks leave with MAIL and RCPT), so PIPELINING too.
 */
export const sendsChunked = (ext: Extensions, o: { readonly chunking: boolean }): boolean =>
  ext.pipelining && ext.chunking && o.chunking;

/** `chunked`: the body goes with BDAT, so BINARYMIME can be declared (RFC 3030 §3). */
/**
 * An envelope address as this server may see it: as it is to an SMTPUTF8 server, else with an
 * internationalised domain in A-labels (RFC 6531 §3.7.1; proto/idna.ts). An invalid IDN goes
 * unchanged (the server refuses it, and that reply is the outcome).
 */
export function wireAddress(address: string, ext: Extensions): string {
  return ext.smtputf8 ? address : (toAsciiAddress(address) ?? address);
}

/**
 * Whether the transaction cannot go without SMTPUTF8 (RFC 6531 §3.4): the sender asked for it,
 * and an envelope address is non-ASCII even with its domain in A-labels (a UTF-8 local part), or
 * the header section is (`headersAscii` false). A sender that asked for SMTPUTF8 but wrote none
 * of it goes to a server without the extension as a plain message, as Postfix does.
 */
export function needsSmtputf8(
  env: OutboundMessage,
  recipients: readonly OutboundRecipient[],
  headersAscii: boolean,
): boolean {
  if (!env.smtputf8) return false;
  if (!headersAscii) return true;
  const ascii = (a: string): boolean => isAscii(toAsciiAddress(a) ?? a);
  return !ascii(env.returnPath) || !recipients.every((r) => ascii(r.address));
}

export function mailCommand(env: OutboundMessage, ext: Extensions, chunked = false): string {
  let line = `MAIL FROM:<${wireAddress(env.returnPath, ext)}>`;
  if (ext.size !== null) line += ` SIZE=${env.size}`;
  // Without 8BITMIME the message goes as it is, as Postfix does by default: downgrading to
  // quoted-printable would rewrite MIME structure, and nearly every server accepts 8-bit data.
  // BINARYMIME is declared only over BDAT to a server that offers it; capabilityProblem() keeps
  // it from going any other way (the label below is only for text bodies).
  if (env.body === "BINARYMIME" && chunked && ext.binaryMime) line += " BODY=BINARYMIME";
  else if (env.body !== "7BIT" && ext.eightBitMime) line += " BODY=8BITMIME";
  if (env.smtputf8 && ext.smtputf8) line += " SMTPUTF8";
  if (env.requireTls === true && ext.requireTls) line += " REQUIRETLS";
  if (ext.dsn) {
    if (env.ret !== null) line += ` RET=${env.ret}`;
    if (env.envid !== null) line += ` ENVID=${xtextEncode(env.envid)}`;
  }
  return line + "\r\n";
}

export function rcptCommand(rcpt: OutboundRecipient, ext: Extensions): string {
  let line = `RCPT TO:<${wireAddress(rcpt.address, ext)}>`;
  if (ext.dsn) {
    if (rcpt.notify !== null) line += ` NOTIFY=${rcpt.notify === "NEVER" ? "NEVER" : rcpt.notify.join(",")}`;
    if (rcpt.orcpt !== null) {
      const semi = rcpt.orcpt.indexOf(";");
      if (semi > 0) line += ` ORCPT=${rcpt.orcpt.slice(0, semi)};${xtextEncode(rcpt.orcpt.slice(semi + 1))}`;
    }
  }
  return line + "\r\n";
}

/**
 * A permanent reason this server cannot take the message, or null. `relay` names the server;
 * `chunked`: the body would go as BDAT (sendsChunked).
 */
export function capabilityProblem(
  env: OutboundMessage,
  ext: Extensions,
  relay: string,
  chunked: boolean,
): Reply | null {
  // RFC 3030 §3: a BINARYMIME message never goes over DATA (it may hold bare CR, LF and NUL that
  // a next hop could read as an end of data); it is converted or returned with 5.6.3. Converting
  // would rewrite its MIME structure (binary parts to base64), so it is returned.
  if (env.body === "BINARYMIME" && !(chunked && ext.binaryMime)) {
    return REPLIES.binaryNotOffered({ relay });
  }
  // RFC 6531 §3.4: an SMTPUTF8 message must not go to a server that lacks the extension.
  if (env.smtputf8 && !ext.smtputf8) {
    return REPLIES.utf8NotOffered({ relay });
  }
  // RFC 1870 §6: a message over the announced limit would be refused anyway.
  if (ext.size !== null && ext.size > 0 && env.size > ext.size) {
    return REPLIES.tooBigForHost({ size: env.size, limit: ext.size, relay });
  }
  return null;
}

/** What a connection's TLS turned out to be (SmtpConnection.tls and .verified). */
export interface HopTls {
  readonly active: boolean;
  readonly verified: boolean;
}

/**
 * A permanent reason a REQUIRETLS message may not go to this server, or null (RFC 8689 §4.2):
 * the hop must be TLS, with a certificate that chains to a trusted CA and names the host, to a
 * server that offers REQUIRETLS, so it keeps the promise on the next hop.
 */
export function requireTlsProblem(
  env: OutboundMessage,
  ext: Extensions,
  hop: HopTls,
  relay: string,
): Reply | null {
  if (env.requireTls !== true) return null;
  if (!hop.active) return REPLIES.requireTlsNoTls({ relay });
  if (!hop.verified) return REPLIES.requireTlsUnverified({ relay });
  if (!ext.requireTls) return REPLIES.requireTlsNotOffered({ relay });
  return null;
}
