// What the outbound TLS policy reports about each attempt (RFC 8460's vocabulary): for one
// policy domain, the kind of policy applied (sts, tlsa, no-policy-found; "static" for
// smtp.outbound.tlsPolicies entries and the verify default, which nobody published), the MX host
// and address, and the result: success or an RFC 8460 §4.3 result type. The relay records into
// a TlsReportSink; /metrics counts them today, and daily TLS-RPT reports (RFC 8460 §4) can be
// built on the same records. No I/O.
import type { Metrics } from "../../log/metrics.js";

export type TlsPolicyType = "sts" | "tlsa" | "no-policy-found" | "static";

/** RFC 8460 §4.3 result types (validation-failure also for an MX an MTA-STS policy does not list). */
export type TlsFailureType =
  | "starttls-not-supported"
  | "certificate-host-mismatch"
  | "certificate-expired"
  | "certificate-not-trusted"
  | "validation-failure"
  | "tlsa-invalid"
  | "dnssec-invalid"
  | "dane-required"
  | "sts-policy-fetch-error"
  | "sts-policy-invalid"
  | "sts-webpki-invalid";

export interface TlsResult {
  /** The recipient domain whose policy applied (RFC 8460 §4.4 policy-domain). */
  readonly policyDomain: string;
  readonly policyType: TlsPolicyType;
  /** MTA-STS: the policy's mode (a failure under testing did not stop delivery). */
  readonly mode?: "enforce" | "testing";
  readonly result: "success" | TlsFailureType;
  /** Absent for failures before any host was tried (an MTA-STS policy that could not be fetched). */
  readonly mxHost?: string;
  readonly receivingIp?: string;
  /** RFC 8460 §4.4 policy-string: the MTA-STS policy's lines, or the TLSA records. */
  readonly policyStrings?: readonly string[];
  /** MTA-STS: the policy's mx patterns (mx-host). */
  readonly mxPatterns?: readonly string[];
  /** Free text for failure-reason-code. */
  readonly reason?: string;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

export interface TlsReportSink {
  record(result: TlsResult): void;
}

export const noTlsReports: TlsReportSink = { record: () => undefined };

/** A sink that counts results in /metrics (mailyard_tls_policy_results_total) and passes them on. */
export function metricsTlsSink(metrics: Metrics, next: TlsReportSink = noTlsReports): TlsReportSink {
  return {
    record(r) {
      metrics.tlsPolicyResult?.(r.policyType, r.result);
      next.record(r);
    },
  };
}

/** The RFC 8460 result type of a failed session, from the SMTP client's error kind and result. */
export function failureType(kind: string, result: string | undefined): TlsFailureType {
  const known: readonly string[] = [
    "certificate-expired",
    "certificate-host-mismatch",
    "certificate-not-trusted",
    "tlsa-invalid",
  ];
  if (result !== undefined && known.includes(result)) return result as TlsFailureType;
  return kind === "starttls" ? "starttls-not-supported" : "validation-failure";
}
