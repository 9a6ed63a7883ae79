// TLS-RPT (RFC 8460): the daily aggregate reports built on the TLS policy's results. The book
// (a TlsReportSink) counts results per UTC day and policy domain, per policy (type and policy
// strings) and failure detail; once a day is over, `sendDue` asks `_smtp._tls.DOMAIN` for the
// rua addresses of each domain with results and submits one report mail per domain (§5.3:
// multipart/report with report-type=tlsrpt, the JSON gzipped as application/tlsrpt+gzip, the
// TLS-Report-Domain and TLS-Report-Submitter fields, TLS-Required: No so it gets through the
// failures it reports), from the null sender so no bounce comes back. Counts are held in memory:
// a restart loses the day's results so far. Bounded: domains per day, details per policy.
import { randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { Log } from "../../log/logger.js";
import type { Metrics } from "../../log/metrics.js";
import { parseTlsRptRecord, type TlsRptReport } from "../../proto/tls-rpt.js";
import type { Submitter } from "../../queue/submit.js";
import type { Clock } from "../../world/clock.js";
import type { Resolver } from "../../world/resolver.js";
import type { TlsResult, TlsReportSink } from "./tls-report.js";

/** Policy domains counted per day at most (the rest are not reported). */
const MAX_DOMAINS = 10_000;
/** Failure-detail rows per policy at most (further failures still count in the summary). */
const MAX_DETAILS = 100;
const DAY_MS = 86_400_000;

interface PolicyCount {
  readonly type: "sts" | "tlsa" | "no-policy-found";
  readonly strings: readonly string[];
  readonly mxHosts: readonly string[];
  ok: number;
  failed: number;
  readonly details: Map<
    string,
    { row: NonNullable<TlsRptReport["policies"][number]["failure-details"]>[number]; n: number }
  >;
}

export interface TlsReportBook extends TlsReportSink {
  /** The report of one policy domain for one day (UTC, "YYYY-MM-DD"), or null without results. */
  report(day: string, domain: string): TlsRptReport | null;
  /** Days with results, each with its policy domains. */
  days(): ReadonlyMap<string, readonly string[]>;
  /** Forget a day (sent). */
  drop(day: string): void;
}

export const utcDay = (at: number): string => new Date(at).toISOString().slice(0, 10);

export function createTlsReportBook(o: { readonly hostname: string }): TlsReportBook {
  const days = new Map<string, Map<string, Map<string, PolicyCount>>>();
  return {
    record(r: TlsResult) {
      const day = utcDay(r.at);
      let domains = days.get(day);
      if (domains === undefined) days.set(day, (domains = new Map<string, Map<string, PolicyCount>>()));
      let policies = domains.get(r.policyDomain);
      if (policies === undefined) {
        if (domains.size >= MAX_DOMAINS) return;
        domains.set(r.policyDomain, (policies = new Map<string, PolicyCount>()));
      }
      // A policy nobody published (smtp.outbound.tlsPolicies, verify) is none for the domain.
      const type = r.policyType === "static" ? "no-policy-found" : r.policyType;
      const strings = r.policyStrings ?? [];
      const key = `${type}\n${strings.join("\n")}`;
      let p = policies.get(key);
      if (p === undefined)
        policies.set(
          key,
          (p = { type, strings, mxHosts: r.mxPatterns ?? [], ok: 0, failed: 0, details: new Map() }),
        );
      if (r.result === "success") {
        p.ok++;
        return;
      }
      p.failed++;
      const dkey = `${r.result} ${r.mxHost ?? ""} ${r.receivingIp ?? ""}`;
      const d = p.details.get(dkey);
      if (d !== undefined) d.n++;
      else if (p.details.size < MAX_DETAILS)
        p.details.set(dkey, {
          row: {
            "result-type": r.result,
            ...(r.mxHost !== undefined ? { "receiving-mx-hostname": r.mxHost } : {}),
            ...(r.receivingIp !== undefined ? { "receiving-ip": r.receivingIp } : {}),
            "failed-session-count": 0,
            ...(r.reason !== undefined ? { "failure-reason-code": r.reason.slice(0, 200) } : {}),
          },
          n: 1,
        });
    },
    report(day, domain) {
      const policies = days.get(day)?.get(domain);
      if (policies === undefined) return null;
      return {
        "organization-name": o.hostname,
        "date-range": { "start-datetime": `${day}T00:00:00Z`, "end-datetime": `${day}T23:59:59Z` },
        "contact-info": `postmaster@${o.hostname}`,
        "report-id": `${day}_${domain}_${randomUUID()}@${o.hostname}`,
        policies: [...policies.values()].map((p) => ({
          policy: {
            "policy-type": p.type,
            ...(p.strings.length > 0 ? { "policy-string": p.strings } : {}),
            "policy-domain": domain,
            ...(p.mxHosts.length > 0 ? { "mx-host": p.mxHosts } : {}),
          },
          summary: { "total-successful-session-count": p.ok, "total-failure-session-count": p.failed },
          ...(p.details.size > 0
            ? {
                "failure-details": [...p.details.values()].map((d) => ({
                  ...d.row,
                  "failed-session-count": d.n,
                })),
              }
            : {}),
        })),
      };
    },
    days: () => new Map([...days].map(([day, domains]) => [day, [...domains.keys()]])),
    drop: (day) => void days.delete(day),
  };
}

/** The report mail (RFC 8460 §5.3), CRLF line ends. */
export function reportMessage(
  report: TlsRptReport,
  domain: string,
  submitter: string,
  to: readonly string[],
  now: number,
): Buffer {
  const start = Date.parse(report["date-range"]["start-datetime"]) / 1000;
  const end = Date.parse(report["date-range"]["end-datetime"]) / 1000;
  const file = `${submitter}!${domain}!${start}!${end}!${randomUUID().slice(0, 8)}.json.gz`;
  const gz = gzipSync(Buffer.from(JSON.stringify(report)));
  const boundary = `tlsrpt-${randomUUID()}`;
  const b64 = (gz.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n");
  const lines = [
    `From: TLS reports <tlsrpt-noreply@${submitter}>`,
    `To: ${to.join(", ")}`,
    `Subject: Report Domain: ${domain} Submitter: ${submitter} Report-ID: <${report["report-id"]}>`,
    `Date: ${new Date(now).toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${randomUUID()}@${submitter}>`,
    `TLS-Report-Domain: ${domain}`,
    `TLS-Report-Submitter: ${submitter}`,
    "TLS-Required: No",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    `This is an aggregate TLS report (RFC 8460) from ${submitter} for ${domain}, ${report["date-range"]["start-datetime"].slice(0, 10)}.`,
    "",
    `--${boundary}`,
    `Content-Type: application/tlsrpt+gzip; name="${file}"`,
    "Content-Transfer-Encoding: base64",
    `Content-Disposition: attachment; filename="${file}"`,
    "",
    b64,
    "",
    `--${boundary}--`,
    "",
  ];
  return Buffer.from(lines.join("\r\n"));
}

export interface TlsRptSenderDeps {
  readonly book: TlsReportBook;
  readonly resolver: Resolver;
  readonly clock: Clock;
  readonly log: Log;
  readonly hostname: string;
  /** Null until the node has its Submitter. */
  readonly submitter: () => Submitter | null;
  readonly metrics?: Metrics;
}

export interface TlsRptSender {
  /** Send the reports of every finished day; returns how many mails were queued. */
  sendDue(): Promise<number>;
  stop(): void;
}

/** Sends once an hour what is due (a day is due once it has ended in UTC). */
export function startTlsRptSender(d: TlsRptSenderDeps): TlsRptSender {
  let timer: { cancel(): void } | null = null;
  let running: Promise<number> | null = null;
  const sendDue = async (): Promise<number> => {
    const submitter = d.submitter();
    if (submitter === null) return 0;
    const today = utcDay(d.clock.now());
    let sent = 0;
    for (const [day, domains] of d.book.days()) {
      if (day >= today) continue;
      for (const domain of domains) {
        const txt = await d.resolver.resolveTxt(`_smtp._tls.${domain}`);
        if (txt.kind === "temporary") {
          d.log.problem("TLS-RPT record lookup failed, report dropped", { domain, day, error: txt.error });
          continue;
        }
        const rec = txt.kind === "ok" ? parseTlsRptRecord(txt.records) : { kind: "none" as const };
        if (rec.kind !== "record" || rec.record.mailto.length === 0) continue;
        const report = d.book.report(day, domain);
        if (report === null) continue;
        const to = rec.record.mailto;
        const message = reportMessage(report, domain, d.hostname, to, d.clock.now());
        const r = await submitter.submit(
          {
            returnPath: "",
            recipients: to.map((address) => ({
              address,
              original: null,
              notify: "NEVER" as const,
              orcpt: null,
            })),
            ret: null,
            envid: null,
            body: "7BIT",
            smtputf8: false,
            source: "dsn",
            authUser: null,
            client: null,
            arrival: d.clock.now(),
          },
          message,
        );
        if (r.ok) sent++;
        d.metrics?.tlsReportSent?.(r.ok ? "queued" : "failed");
        if (r.ok) d.log.info("TLS-RPT report queued", { domain, day, to: to.join(","), id: r.id });
        else d.log.problem("TLS-RPT report not queued", { domain, day, reply: r.reply.text });
      }
      d.book.drop(day);
    }
    return sent;
  };
  const tick = (): void => {
    running ??= sendDue().finally(() => (running = null));
    timer = d.clock.setTimeout(tick, DAY_MS / 24);
  };
  timer = d.clock.setTimeout(tick, DAY_MS / 24);
  return {
    sendDue: () => (running ??= sendDue().finally(() => (running = null))),
    stop: () => timer?.cancel(),
  };
}
