// Inbound mail authentication at end of data: SPF (RFC 7208), DKIM (RFC 6376, Ed25519 RFC 8463),
// ARC (RFC 8617) and DMARC (RFC 7489) with mailauth, on mail that enters from outside: the
// node is a single server or a frontend, the session is on the smtp listener, not logged in and
// not from smtp.relayNetworks (the delivery channel and XSUBMIT from other members never come
// here). A sink wrapper, one of the end-of-data hooks in front of the queue (handler.ts):
// - bytes stream to mailauth as they arrive (the DKIM body hash advances chunk by chunk, so the
//   event loop is never held for a whole message) and are kept, unchanged and uncopied, for
//   the queue (so a message is held in memory until end of data, at most smtp.maxMessageSize):
//   the verdicts go in the header, which is written before the body; the DNS time after end
//   of data is bounded (AUTH_TIMEOUT_MS on the injected clock, then temperror);
// - at end of data one Authentication-Results field (RFC 8601) is prepended, authserv-id =
//   the node's hostname, after every incoming one that claims that id has been dropped
//   (RFC 8601 §5: only we may speak for our id);
// - RFC 8301 §3.1: an rsa-sha1 signature never passes (mailauth still accepts it): it is
//   recorded as dkim=policy, and DMARC is evaluated again without it;
// - policy: DMARC p=reject → 550 5.7.1 and p=quarantine → X-Mailyard-Quarantine: dmarc
//   (smtp.dmarcPolicy), SPF fail → 550 5.7.23 (RFC 7372) or only recorded (smtp.spfFail).
//   DNS trouble is temperror and never refuses mail; an error inside mailauth is logged and the
//   message accepted with temperror, never lost.
// The message is the client's, untrusted; verdict strings come from mailauth and are folded
// into the header as mailauth formats them.
import { PassThrough } from "node:stream";
import { once } from "node:events";
import { authenticate, dmarc, type AuthenticateOptions, type AuthenticateResult } from "mailauth";
import type { Settings } from "../config/settings.js";
import type { Log } from "../log/logger.js";
import type { AuthMethod, Metrics } from "../log/metrics.js";
import { headerEnd, headerFields, piecesWithout } from "../proto/header-fields.js";
import { REPLIES } from "../proto/reply.js";
import type { MessageSink, SessionInfo, Transaction } from "../smtp/handler.js";
import type { Clock } from "../world/clock.js";
import type { Resolver } from "../world/resolver.js";
import { mailauthResolver } from "./mailauth-dns.js";

/** The header rules and Sieve scripts test for a DMARC quarantine verdict. */
export const QUARANTINE_HEADER = "X-Mailyard-Quarantine";

/** Most header bytes searched for forged Authentication-Results fields (as from-header.ts). */
const MAX_HEADER = 256 * 1024;

/**
 * The checks' DNS time after end of data is bounded: past this the verdicts are temperror and
 * the message goes on (the client waits up to 10 minutes for its reply, RFC 5321 §4.5.3.2.6).
 */
export const AUTH_TIMEOUT_MS = 60_000;

export interface AuthenticationOptions {
  readonly settings: Settings;
  readonly resolver: Resolver;
  readonly clock: Clock;
  /** Tagged SMTPI. */
  readonly log: Log;
  readonly metrics: Metrics;
}

export interface InboundAuthentication {
  /** Whether this session's mail is checked; `trusted`: the client is in smtp.relayNetworks. */
  applies(s: SessionInfo, trusted: boolean): boolean;
  /** `inner` with the checks in front of its end (see the header). */
  sink(s: SessionInfo, tx: Transaction, inner: MessageSink): MessageSink;
}

export interface Verdicts {
  readonly spf: string;
  readonly dkim: string;
  readonly arc: string;
  readonly dmarc: string;
  /** The DMARC policy that applies to the From: domain (p, or sp for a subdomain), "" if none. */
  readonly policy: string;
  readonly fromDomain: string;
}

const KNOWN = new Set(["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy"]);
const known = (r: unknown): string => (typeof r === "string" && KNOWN.has(r) ? r : "none");

/** The strongest DKIM verdict of all signatures (pass wins, as DMARC reads them: RFC 7489 §4.2). */
function dkimVerdict(results: readonly { status?: { result?: string } }[]): string {
  const all = results.map((r) => known(r.status?.result));
  for (const v of ["pass", "temperror", "fail", "permerror", "neutral", "policy"])
    if (all.includes(v)) return v;
  return "none";
}

export function verdictsOf(r: AuthenticateResult): Verdicts {
  const dmarc = r.dmarc === false ? null : r.dmarc;
  return {
    spf: known(r.spf === false ? "none" : r.spf.status.result),
    dkim: dkimVerdict(r.dkim.results),
    arc: known(r.arc === false ? "none" : r.arc.status.result),
    dmarc: dmarc === null ? "none" : known(dmarc.status.result),
    policy: dmarc === null ? "" : (typeof dmarc.policy === "string" ? dmarc.policy : "").toLowerCase(),
    fromDomain: dmarc === null ? "" : String(dmarc.domain ?? ""),
  };
}

/** The Authentication-Results field with mailauth's method results (RFC 8601 §2.2). */
function resultsField(hostname: string, r: AuthenticateResult | null): string {
  const rows: string[] = [];
  if (r === null) rows.push("dkim=temperror", "spf=temperror", "dmarc=temperror");
  else {
    for (const d of r.dkim.results) if (d.info) rows.push(d.info);
    if (r.spf !== false) rows.push(r.spf.info);
    if (r.arc !== false && r.arc.info) rows.push(r.arc.info);
    if (r.dmarc !== false && r.dmarc.info) rows.push(r.dmarc.info);
  }
  // mailauth folds long rows with CRLF + white space; nothing else may break the field.
  const clean = rows.map((row) =>
    row
      .split(/\r\n(?=[ \t])/)
      .map((line) => line.replace(/[\r\n]/g, " "))
      .join("\r\n"),
  );
  return `Authentication-Results: ${hostname};\r\n\t${clean.length > 0 ? clean.join(";\r\n\t") : "none"}\r\n`;
}

/** The authserv-id an Authentication-Results value starts with (RFC 8601 §2.2), lower-cased. */
export function authservIdOf(value: string): string {
  const v = value.replace(/^\s*(\([^)]*\)\s*)*/, "");
  return (/^[^\s;()]+/.exec(v)?.[0] ?? "").toLowerCase();
}

/**
 * The message's chunks with every Authentication-Results field claiming `id` left out, as
 * pieces to write in order (slices of the chunks, no copy of the body).
 */
export function withoutForgedResults(chunks: readonly Buffer[], id: string): Buffer[] {
  // Join only as many leading chunks as the header section needs (bounded by MAX_HEADER).
  let head = Buffer.alloc(0);
  let used = 0;
  const ended = (): boolean =>
    headerEnd(head) < head.length || /(^|\n)\r?\n$/.test(head.subarray(-3).toString("latin1"));
  while (used < chunks.length && head.length < MAX_HEADER && !ended()) {
    head = Buffer.concat([head, chunks[used++]!]);
  }
  const end = headerEnd(head);
  const drop = headerFields(head.subarray(0, end)).filter(
    (f) =>
      f.name.toLowerCase() === "authentication-results" &&
      f.end <= end &&
      authservIdOf(f.value) === id.toLowerCase(),
  );
  if (drop.length === 0) return [...chunks];
  return [...piecesWithout(head, drop), ...chunks.slice(used)];
}

/**
 * RFC 8301 §3.1 on mailauth's results: "Verifiers MUST NOT consider signatures using RSA SHA-1
 * to pass". Such a pass becomes "policy" (RFC 8601 §2.7.1: valid, refused by local policy), and
 * DMARC, which mailauth computed with it, is computed again without it.
 */
export async function withoutSha1(
  r: AuthenticateResult,
  resolver: NonNullable<AuthenticateOptions["resolver"]>,
  dmarcOn: boolean,
): Promise<AuthenticateResult> {
  const algorithm = (d: object): string => {
    const a = (d as { algo?: unknown }).algo;
    return typeof a === "string" ? a.toLowerCase() : "";
  };
  const sha1 = r.dkim.results.filter((d) => d.status.result === "pass" && algorithm(d) === "rsa-sha1");
  if (sha1.length === 0) return r;
  for (const d of sha1) {
    d.status.result = "policy";
    d.info = (d.info ?? "dkim=pass").replace(
      /^dkim=pass/,
      "dkim=policy (rsa-sha1 is not accepted: RFC 8301)",
    );
  }
  const headerFrom = r.dkim.headerFrom;
  if (!dmarcOn || r.dmarc === false || headerFrom === undefined) return r;
  const again = await dmarc({
    headerFrom,
    spfDomains: r.spf !== false && r.spf.status.result === "pass" ? [r.spf.domain] : [],
    dkimDomains: r.dkim.results
      .filter((d) => d.status.result === "pass")
      .map((d) => ({ domain: d.signingDomain ?? "" })),
    ...(r.arc !== false ? { arcResult: r.arc } : {}),
    resolver,
  });
  return { ...r, dmarc: again };
}

type Action = "accept" | "quarantine" | "reject-dmarc" | "reject-spf";

export function actionFor(v: Verdicts, settings: Settings): Action {
  const dmarcPolicy = settings.smtp.dmarcPolicy;
  if (v.dmarc === "fail" && dmarcPolicy !== "off") {
    if (v.policy === "reject" && dmarcPolicy === "honour") return "reject-dmarc";
    if (v.policy === "reject" || v.policy === "quarantine") return "quarantine";
  }
  if (v.spf === "fail" && settings.smtp.spfFail === "reject") return "reject-spf";
  return "accept";
}

export function createAuthentication(o: AuthenticationOptions): InboundAuthentication {
  // mailauth's .d.ts narrows answers to strings; MX answers are objects, as node:dns gives them.
  const resolve = mailauthResolver(o.resolver) as NonNullable<AuthenticateOptions["resolver"]>;
  const count = (method: AuthMethod, result: string): void => o.metrics.authVerdict?.(method, result);

  return {
    applies(s, trusted) {
      const { settings } = o;
      return (
        settings.smtp.authChecks &&
        settings.role !== "backend" &&
        s.listener === "smtp" &&
        s.authUser === null &&
        !trusted
      );
    },

    sink(s, tx, inner) {
      const log = o.log.with(s.id, s.remote.address);
      const feed = new PassThrough();
      let chunks: Buffer[] = [];
      // Settled once mailauth has read everything (or failed); never rejects.
      const verdict: Promise<AuthenticateResult | Error> = authenticate(feed, {
        ip: s.remote.address,
        ...(s.helo !== null ? { helo: s.helo } : {}),
        sender: tx.from,
        mta: o.settings.hostname,
        resolver: resolve,
        // BIMI (logos) is no verdict on the message and costs lookups: off.
        disableBimi: true,
        disableDmarc: o.settings.smtp.dmarcPolicy === "off",
      })
        .then((r) => withoutSha1(r, resolve, o.settings.smtp.dmarcPolicy !== "off"))
        .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      // mailauth stopped reading before the end (an error): the rest is not fed to it.
      let settled = false;
      const failed = verdict.then(() => void (settled = true));

      return {
        async write(chunk) {
          chunks.push(chunk);
          // Backpressure from mailauth, unless it has already stopped reading (an error).
          if (!settled && !feed.write(chunk)) await Promise.race([once(feed, "drain"), failed]);
        },
        async end() {
          feed.end();
          let cancel = (): void => undefined;
          const late = new Promise<Error>((resolve) => {
            const t = o.clock.setTimeout(
              () => resolve(new Error("authentication timed out")),
              AUTH_TIMEOUT_MS,
            );
            cancel = () => t.cancel();
          });
          const got = await Promise.race([verdict, late]);
          cancel();
          if (got instanceof Error) feed.destroy();
          const result = got instanceof Error ? null : got;
          if (got instanceof Error) log.problem("authentication failed", { error: String(got) });
          const v: Verdicts =
            result === null
              ? {
                  spf: "temperror",
                  dkim: "temperror",
                  arc: "none",
                  dmarc: "temperror",
                  policy: "",
                  fromDomain: "",
                }
              : verdictsOf(result);
          const action = actionFor(v, o.settings);
          count("spf", v.spf);
          count("dkim", v.dkim);
          count("arc", v.arc);
          count("dmarc", v.dmarc);
          log.info("authentication", {
            from: tx.from,
            spf: v.spf,
            dkim: v.dkim,
            arc: v.arc,
            dmarc: v.dmarc,
            policy: v.policy,
            header_from: v.fromDomain,
            action,
          });
          if (action === "reject-dmarc" || action === "reject-spf") {
            chunks = [];
            await inner.abort();
            return action === "reject-dmarc" ? REPLIES.dmarcReject : REPLIES.spfReject;
          }
          const pieces = withoutForgedResults(chunks, o.settings.hostname);
          chunks = [];
          try {
            await inner.write(Buffer.from(resultsField(o.settings.hostname, result), "latin1"));
            if (action === "quarantine") await inner.write(Buffer.from(`${QUARANTINE_HEADER}: dmarc\r\n`));
            for (const p of pieces) if (p.length > 0) await inner.write(p);
          } catch (e) {
            log.failure("message write failed", { error: String(e) });
            await inner.abort().catch(() => undefined);
            return REPLIES.queueWriteFailed;
          }
          return inner.end();
        },
        async abort() {
          chunks = [];
          feed.destroy(new Error("message aborted"));
          await inner.abort();
        },
      };
    },
  };
}
