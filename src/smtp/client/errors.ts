// Why a conversation with a remote SMTP server stopped without a reply to act on. These never
// leave the delivery layer as exceptions: the relay channel turns every one into a deferred
// outcome (a timeout, a lost connection or a garbled reply is never evidence of a permanent
// failure).

export type ClientErrorKind =
  /** No reply (or no progress writing) within the time limit. */
  | "timeout"
  /** The server closed or reset the connection. */
  | "lost"
  /** The server sent something that is not an SMTP reply, or too much of it. */
  | "protocol"
  /** The TLS handshake (after STARTTLS, or implicit TLS) failed. */
  | "tls"
  /** The TLS handshake worked, but the certificate did not verify (chain or name). */
  | "untrusted"
  /** Reading the queued message failed on our side. */
  | "local";

export class SmtpClientError extends Error {
  constructor(
    readonly kind: ClientErrorKind,
    message: string,
    /** For "untrusted": the RFC 8460 result type of the failed check (certificate-expired, ...). */
    readonly result?: string,
  ) {
    super(message);
    this.name = "SmtpClientError";
  }
}

export const asClientError = (e: unknown, fallback: ClientErrorKind = "lost"): SmtpClientError =>
  e instanceof SmtpClientError
    ? e
    : new SmtpClientError(fallback, e instanceof Error ? e.message : String(e));
