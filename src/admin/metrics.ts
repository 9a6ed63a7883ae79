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
  // Every counter is registered alike; only its name, help and labels differ.
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });

  const received = counter(
    "mailyard_messages_received_total",
    "Messages accepted into the queue, by source.",
    ["source"],
  );
  const delivered = counter(
    "mailyard_recipients_delivered_total",
    "Recipients delivered, by kind (local, remote).",
    ["kind"],
  );
  const deferred = counter(
    "mailyard_recipients_deferred_total",
    "Delivery attempts that ended in a temporary failure, by kind.",
    ["kind"],
  );
  const bounced = counter(
    "mailyard_recipients_bounced_total",
    "Recipients given up on (permanent failure or expiry), by kind.",
    ["kind"],
  );
  new Gauge({
    name: "mailyard_queue_messages",
    help: "Messages in the queue.",
    registers,
    collect() {
      this.set(opts.queueSize());
    },
  });
  const connections = counter("mailyard_connections_total", "Inbound connections accepted, by listener.", [
    "listener",
  ]);
  const active = new Gauge({
    name: "mailyard_connections_active",
    help: "Inbound connections open now, by listener.",
    labelNames: ["listener"] as const,
    registers,
  });
  const quarantined = counter(
    "mailyard_queue_quarantined_total",
    "Queued messages whose bytes failed their checksum, moved to the quarantine (queue/corrupt/).",
  );
  const milterActions = counter(
    "mailyard_milter_actions_total",
    "Milter replies, by milter (as configured in smtp.milters) and action.",
    ["milter", "action"],
  );
  const milterFailures = counter(
    "mailyard_milter_failures_total",
    "Milters that failed (timeout, closed, protocol, connect), by milter and reason.",
    ["milter", "reason"],
  );
  const auth = counter(
    "mailyard_auth_verdicts_total",
    "Inbound SPF, DKIM, ARC and DMARC verdicts (RFC 8601 result words), by method and result.",
    ["method", "result"],
  );
  const signing = counter(
    "mailyard_dkim_signing_total",
    "Messages relayed out, by DKIM signing outcome (signed, no-key, failed).",
    ["outcome"],
  );
  const unprotected = counter(
    "mailyard_shadow_unprotected_total",
    "Messages acknowledged without a shadow copy on a peer (queue.shadow = preferred).",
  );
  const promoted = counter(
    "mailyard_shadow_promoted_total",
    "Shadow copies of a dead member promoted into this node's queue by a take-over.",
  );
  const duplicates = counter(
    "mailyard_takeover_duplicates_total",
    "Messages a take-over may have delivered twice (being delivered when their node died).",
  );
  const tlsResults = counter(
    "mailyard_tls_policy_results_total",
    "Outbound TLS policy results (RFC 8460 vocabulary), by policy type (sts, tlsa, no-policy-found, static) and result (success or the failure's result type).",
    ["policy", "result"],
  );
  const tlsReportsSent = counter(
    "mailyard_tls_reports_total",
    "Daily TLS-RPT report mails (RFC 8460), by outcome (queued, failed).",
    ["outcome"],
  );
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
    tlsPolicyResult: (policy, result) => tlsResults.inc({ policy, result }),
    tlsReportSent: (outcome) => tlsReportsSent.inc({ outcome }),
  };
}
