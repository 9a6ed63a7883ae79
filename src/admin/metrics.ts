// Prometheus metrics: implements the Metrics interface the working modules report to, with
// prom-client in a registry of its own (never the global one, so two nodes in one process, as
// in tests, do not collide). Label values come from code, never from the network.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { DeliveryKind, Metrics } from "../log/metrics.js";
import { systemClock, type Clock } from "../world/clock.js";
import { createMinuteSeries, type MinuteSeries } from "./minutes.js";

export interface PromMetrics extends Metrics {
  readonly registry: Registry;
  /** The last hour per minute, for the WebAdmin charts. */
  readonly minutes: MinuteSeries;
}

/** Delivery delays span seconds (local) to days (retries); buckets in seconds. */
const DELAY_BUCKETS = [0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400, 5 * 86400];

export function createPromMetrics(opts: { queueSize: () => number; clock?: Clock }): PromMetrics {
  const registry = new Registry();
  const minutes = createMinuteSeries({
    clock: opts.clock ?? systemClock,
    minutes: 60,
    queueSize: () => opts.queueSize(),
  });
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const received = new Counter({
    name: "mailyard_messages_received_total",
    help: "Messages accepted into the queue, by source.",
    labelNames: ["source"] as const,
    registers,
  });
  const delivered = new Counter({
    name: "mailyard_recipients_delivered_total",
    help: "Recipients delivered, by kind (local, remote).",
    labelNames: ["kind"] as const,
    registers,
  });
  const deferred = new Counter({
    name: "mailyard_recipients_deferred_total",
    help: "Delivery attempts that ended in a temporary failure, by kind.",
    labelNames: ["kind"] as const,
    registers,
  });
  const bounced = new Counter({
    name: "mailyard_recipients_bounced_total",
    help: "Recipients given up on (permanent failure or expiry), by kind.",
    labelNames: ["kind"] as const,
    registers,
  });
  new Gauge({
    name: "mailyard_queue_messages",
    help: "Messages in the queue.",
    registers,
    collect() {
      this.set(opts.queueSize());
    },
  });
  const connections = new Counter({
    name: "mailyard_connections_total",
    help: "Inbound connections accepted, by listener.",
    labelNames: ["listener"] as const,
    registers,
  });
  const active = new Gauge({
    name: "mailyard_connections_active",
    help: "Inbound connections open now, by listener.",
    labelNames: ["listener"] as const,
    registers,
  });
  const quarantined = new Counter({
    name: "mailyard_queue_quarantined_total",
    help: "Queued messages whose bytes failed their checksum, moved to the quarantine (queue/corrupt/).",
    registers,
  });
  const milterActions = new Counter({
    name: "mailyard_milter_actions_total",
    help: "Milter replies, by milter (as configured in smtp.milters) and action.",
    labelNames: ["milter", "action"] as const,
    registers,
  });
  const milterFailures = new Counter({
    name: "mailyard_milter_failures_total",
    help: "Milters that failed (timeout, closed, protocol, connect), by milter and reason.",
    labelNames: ["milter", "reason"] as const,
    registers,
  });
  const auth = new Counter({
    name: "mailyard_auth_verdicts_total",
    help: "Inbound SPF, DKIM, ARC and DMARC verdicts (RFC 8601 result words), by method and result.",
    labelNames: ["method", "result"] as const,
    registers,
  });
  const signing = new Counter({
    name: "mailyard_dkim_signing_total",
    help: "Messages relayed out, by DKIM signing outcome (signed, no-key, failed).",
    labelNames: ["outcome"] as const,
    registers,
  });
  const unprotected = new Counter({
    name: "mailyard_shadow_unprotected_total",
    help: "Messages acknowledged without a shadow copy on a peer (queue.shadow = preferred).",
    registers,
  });
  const promoted = new Counter({
    name: "mailyard_shadow_promoted_total",
    help: "Shadow copies of a dead member promoted into this node's queue by a take-over.",
    registers,
  });
  const duplicates = new Counter({
    name: "mailyard_takeover_duplicates_total",
    help: "Messages a take-over may have delivered twice (being delivered when their node died).",
    registers,
  });
  const delay = new Histogram({
    name: "mailyard_delivery_delay_seconds",
    help: "Time from arrival in the queue to delivery, by kind.",
    labelNames: ["kind"] as const,
    buckets: DELAY_BUCKETS,
    registers,
  });

  return {
    registry,
    minutes,
    messageReceived: (source) => {
      received.inc({ source });
      minutes.received();
    },
    recipientDelivered: (kind: DeliveryKind, delayMs) => {
      delivered.inc({ kind });
      delay.observe({ kind }, Math.max(0, delayMs) / 1000);
      minutes.delivered(delayMs);
    },
    recipientDeferred: (kind) => {
      deferred.inc({ kind });
      minutes.deferred();
    },
    recipientBounced: (kind) => {
      bounced.inc({ kind });
      minutes.bounced();
    },
    connectionOpened: (listener) => {
      connections.inc({ listener });
      active.inc({ listener });
    },
    connectionClosed: (listener) => active.dec({ listener }),
    messageQuarantined: () => quarantined.inc(),
    milterAction: (milter, action) => milterActions.inc({ milter, action }),
    milterFailure: (milter, reason) => milterFailures.inc({ milter, reason }),
    authVerdict: (method, result) => auth.inc({ method, result }),
    dkimSigning: (outcome) => signing.inc({ outcome }),
    shadowUnprotected: () => unprotected.inc(),
    shadowsPromoted: (n) => promoted.inc(n),
    takeoverDuplicates: (n) => duplicates.inc(n),
  };
}
