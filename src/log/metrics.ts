// Counters the working modules report; the admin layer turns them into Prometheus metrics.
// Modules get a Metrics passed in and never import prom-client themselves.

export type DeliveryKind = "local" | "remote";

/** Mail authentication methods with a verdict per message (src/inbound/authentication.ts). */
export type AuthMethod = "spf" | "dkim" | "arc" | "dmarc";

/** What DKIM signing did to a message relayed out (src/delivery/dkim/). */
export type SigningOutcome = "signed" | "no-key" | "failed";

export interface Metrics {
  messageReceived(source: string): void;
  /** delayMs: arrival in the queue → delivered. */
  recipientDelivered(kind: DeliveryKind, delayMs: number): void;
  recipientDeferred(kind: DeliveryKind): void;
  recipientBounced(kind: DeliveryKind): void;
  connectionOpened(listener: string): void;
  connectionClosed(listener: string): void;
  /** A queued message whose bytes failed their checksum was moved to the quarantine. */
  messageQuarantined?(): void;
  /** A milter's reply (accept, continue, reject, tempfail, discard, an edit) by milter. */
  milterAction?(milter: string, action: string): void;
  /** A milter that failed (timeout, closed, protocol, connect); its default action applies. */
  milterFailure?(milter: string, reason: string): void;
  /** One verdict of an inbound check; result is one of RFC 8601's result words. */
  authVerdict?(method: AuthMethod, result: string): void;
  /** A message relayed out, signed or not. */
  dkimSigning?(outcome: SigningOutcome): void;
  /** A message acknowledged without a shadow copy on a peer (queue.shadow = preferred). */
  shadowUnprotected?(): void;
  /** Shadow copies of a dead member promoted into this node's queue (take-over). */
  shadowsPromoted?(count: number): void;
  /** Messages a take-over may deliver twice (they were being delivered when their node died). */
  takeoverDuplicates?(count: number): void;
  /** One outbound TLS policy result (delivery/relay/tls-report.ts): policy type, success or RFC 8460 result type. */
  tlsPolicyResult?(policy: string, result: string): void;
  /** A daily TLS-RPT report mail (RFC 8460): queued or failed to queue. */
  tlsReportSent?(outcome: "queued" | "failed"): void;
}

export const noMetrics: Metrics = {
  messageReceived: () => undefined,
  recipientDelivered: () => undefined,
  recipientDeferred: () => undefined,
  recipientBounced: () => undefined,
  connectionOpened: () => undefined,
  connectionClosed: () => undefined,
};
