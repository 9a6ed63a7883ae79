// Counters the working modules report; the admin layer turns them into Prometheus metrics.
// Modules get a Metrics passed in and never import prom-client themselves.

export type DeliveryKind = "local" | "remote";

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
}

export const noMetrics: Metrics = {
  messageReceived: () => undefined,
  recipientDelivered: () => undefined,
  recipientDeferred: () => undefined,
  recipientBounced: () => undefined,
  connectionOpened: () => undefined,
  connectionClosed: () => undefined,
};
