// Delivery status notifications (RFC 3464) as multipart/report (RFC 6522) messages: a
// human-readable part, the machine-readable delivery-status part, and the original message's
// headers (text/rfc822-headers) or the whole message (message/rfc822, RET=FULL). Pure: the queue
// manager reads the original, calls this and enqueues the result from the null sender.
//
// Reply texts come from remote servers and are untrusted: control characters are removed and
// lengths capped before they reach a header-like line. The enclosed original is untrusted too:
// its stray CR and LF become CRLF and NUL is dropped (stray-cr-lf.ts), so the report is text
// with CRLF line endings only wherever it goes (a mailbox, the channel, a next hop over DATA).
import libqp from "libqp";
import { rfc5322Date } from "../proto/date.js";
import { straysToCrlf } from "../proto/stray-cr-lf.js";
import type { Envelope, EnvelopeRecipient } from "./envelope.js";

export type DsnKind = "failure" | "delay" | "success";
/** RFC 3464 §2.3.3. */
export type DsnAction = "failed" | "delayed" | "delivered" | "relayed" | "expanded";

export interface DsnReply {
  readonly code: number;
  readonly enhanced: string | null;
  readonly text: string;
}

export interface DsnRecipient {
  readonly rcpt: EnvelopeRecipient;
  readonly action: DsnAction;
  readonly reply: DsnReply | null;
  /** Host that gave the reply; "mailbox" or null when it was not a remote MTA. */
  readonly relay: string | null;
}

export interface DsnInput {
  readonly kind: DsnKind;
  readonly reportingMta: string;
  readonly envelope: Envelope;
  readonly recipients: readonly DsnRecipient[];
  /** The original header section (up to and possibly including the empty line). */
  readonly originalHeaders: Buffer;
  /** The whole original message when it is to be returned (RET=FULL), else null. */
  readonly originalMessage: Buffer | null;
  readonly now: number;
  /** Message-ID of the report, without angle brackets. */
  readonly messageId: string;
  /** For delay reports: when the queue gives up (RFC 3464 §2.3.9). */
  readonly willRetryUntil?: number;
}

const CRLF = "\r\n";
const MAX_FIELD = 900;

/** One line of untrusted text: controls become spaces, runs collapse, length capped. */
const clean = (s: string, max = MAX_FIELD): string => {
  const one = s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/ {2,}/g, " ")
    .trim();
  return one.length > max ? `${one.slice(0, max - 3)}...` : one;
};

// eslint-disable-next-line no-control-regex
const nonAscii = (s: string): boolean => /[^\u0000-\u007f]/.test(s);

/** RFC 3464 §2.3.4: the status reported for a recipient. */
export function dsnStatus(action: DsnAction, reply: DsnReply | null): string {
  const enh = reply?.enhanced ?? null;
  switch (action) {
    case "failed":
      if (reply === null) return "5.0.0";
      // A failure with a temporary last reply is a message the queue gave up on (RFC 3463 X.4.7),
      // but a mailbox that stayed full is said as such (X.2.2, persistent now).
      if (reply.code < 500) return enh === "4.2.2" ? "5.2.2" : "5.4.7";
      return enh?.startsWith("5.") ? enh : "5.0.0";
    case "delayed":
      return enh?.startsWith("4.") ? enh : "4.0.0";
    case "delivered":
    case "relayed":
    case "expanded":
      return enh?.startsWith("2.") ? enh : "2.0.0";
  }
}

const remoteMta = (relay: string | null): string | null => {
  if (relay === null || relay === "" || relay === "mailbox" || relay === "none") return null;
  // "mx.example.test[192.0.2.1]:25" → the name; "[192.0.2.1]:25" → the address.
  const m = /^([^[\s]*)\[([^\]]+)\]/.exec(relay);
  if (m) return clean(m[1] !== undefined && m[1] !== "" ? m[1] : (m[2] ?? relay), 255);
  return clean(relay, 255);
};

const diagnostic = (r: DsnReply): string =>
  clean(`${r.code}${r.enhanced !== null ? ` ${r.enhanced}` : ""} ${r.text}`);

const SUBJECTS: Record<DsnKind, string> = {
  failure: "Undelivered Mail Returned to Sender",
  delay: "Delayed Mail (still being retried)",
  success: "Successful Mail Delivery Report",
};

function humanText(i: DsnInput): string {
  const lines = [`This is the mail system at host ${i.reportingMta}.`, ""];
  switch (i.kind) {
    case "failure":
      lines.push(
        "Your message could not be delivered to one or more recipients.",
        i.originalMessage !== null ? "It is attached below." : "Its headers are attached below.",
        "",
        "For further assistance, please contact the postmaster of this system",
        "and include this report.",
      );
      break;
    case "delay":
      lines.push(
        "Your message could not be delivered yet to one or more recipients.",
        "This is a warning only; you do not need to send the message again.",
      );
      if (i.willRetryUntil !== undefined)
        lines.push(`Delivery will be retried until ${rfc5322Date(i.willRetryUntil)}.`);
      break;
    case "success":
      lines.push("Your message was successfully delivered to the recipients listed below.");
      break;
  }
  lines.push("", "                   The mail system", "");
  for (const r of i.recipients) {
    const who =
      r.rcpt.original !== null && r.rcpt.original !== r.rcpt.address
        ? `<${r.rcpt.address}> (expanded from <${r.rcpt.original}>)`
        : `<${r.rcpt.address}>`;
    const what =
      r.reply === null
        ? r.action
        : `${remoteMta(r.relay) !== null ? `host ${remoteMta(r.relay) ?? ""} said: ` : ""}${diagnostic(r.reply)}`;
    lines.push(`${clean(who, 2000)}: ${what}`, "");
  }
  return lines.join(CRLF);
}

function deliveryStatus(i: DsnInput): string {
  const out: string[] = [`Reporting-MTA: dns; ${clean(i.reportingMta, 255)}`];
  // RFC 3464 §2.2.1: ENVID is xtext-decoded when stored; it is printable ASCII by RFC 3461 §4.4.
  if (i.envelope.envid !== null) out.push(`Original-Envelope-Id: ${clean(i.envelope.envid, 100)}`);
  out.push(`X-Mailyard-Queue-ID: ${i.envelope.id}`);
  if (i.envelope.returnPath !== "")
    out.push(`X-Mailyard-Sender: rfc822; ${clean(i.envelope.returnPath, 512)}`);
  out.push(`Arrival-Date: ${rfc5322Date(i.envelope.arrival)}`);
  for (const r of i.recipients) {
    out.push("");
    if (r.rcpt.orcpt !== null) out.push(`Original-Recipient: ${clean(r.rcpt.orcpt, 512)}`);
    else if (r.rcpt.original !== null && r.rcpt.original !== r.rcpt.address)
      out.push(`Original-Recipient: rfc822; ${clean(r.rcpt.original, 512)}`);
    out.push(`Final-Recipient: rfc822; ${clean(r.rcpt.address, 512)}`);
    out.push(`Action: ${r.action}`);
    out.push(`Status: ${dsnStatus(r.action, r.reply)}`);
    const mta = remoteMta(r.relay);
    if (mta !== null) out.push(`Remote-MTA: dns; ${mta}`);
    if (r.reply !== null) out.push(`Diagnostic-Code: smtp; ${diagnostic(r.reply)}`);
    if (r.action === "delayed" && i.willRetryUntil !== undefined)
      out.push(`Will-Retry-Until: ${rfc5322Date(i.willRetryUntil)}`);
  }
  return out.join(CRLF) + CRLF;
}

/** The header section without the terminating empty line, ending in exactly one line break. */
function headerSection(h: Buffer): Buffer {
  let end = h.length;
  for (;;) {
    if (end >= 2 && h[end - 2] === 0x0d && h[end - 1] === 0x0a) end -= 2;
    else if (end >= 1 && h[end - 1] === 0x0a) end -= 1;
    else break;
  }
  return Buffer.concat([h.subarray(0, end), Buffer.from(CRLF)]);
}

function pickBoundary(base: string, parts: readonly Buffer[]): string {
  // "=_" never occurs in quoted-printable or base64 text; the loop covers a hostile original.
  for (let n = 0; ; n++) {
    const b = `=_${base}${n > 0 ? `.${n}` : ""}`;
    if (parts.every((p) => p.indexOf(b) < 0)) return b;
  }
}

export function buildDsn(i: DsnInput): Buffer {
  const text = humanText(i);
  // Internationalised addresses and reply texts make the notification non-ASCII: it goes
  // quoted-printable, so this part never needs 8BITMIME (RFC 2045 §6.7)
  const qp = nonAscii(text);
  const human = qp ? libqp.wrap(libqp.encode(Buffer.from(text, "utf8")), 76) : text;
  const status = deliveryStatus(i);
  const original = straysToCrlf(i.originalMessage ?? headerSection(i.originalHeaders));
  const full = i.originalMessage !== null;
  const boundary = pickBoundary(`${i.envelope.id}.${i.now}/${clean(i.reportingMta, 200)}`, [original]);
  const utf8Status = nonAscii(status);
  // RFC 6533: internationalised addresses need the "global" report types.
  const statusType = utf8Status ? "message/global-delivery-status" : "message/delivery-status";
  const originalType = full
    ? i.envelope.smtputf8
      ? "message/global"
      : "message/rfc822"
    : i.envelope.smtputf8
      ? "message/global-headers"
      : "text/rfc822-headers";
  const eightBit = i.envelope.body !== "7BIT" || i.envelope.smtputf8;
  const to = i.envelope.returnPath;

  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${clean(i.reportingMta, 255)}>`,
    `To: <${clean(to, 512)}>`,
    `Subject: ${SUBJECTS[i.kind]}`,
    `Date: ${rfc5322Date(i.now)}`,
    `Message-ID: <${clean(i.messageId, 255)}>`,
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF}\tboundary="${boundary}"`,
    "Content-Transfer-Encoding: " + (eightBit || utf8Status ? "8bit" : "7bit"),
    "",
    "This is a MIME-encapsulated message.",
    "",
    `--${boundary}`,
    "Content-Description: Notification",
    `Content-Type: text/plain; charset=${qp ? "utf-8" : "us-ascii"}`,
    ...(qp ? ["Content-Transfer-Encoding: quoted-printable"] : []),
    "",
    human,
    `--${boundary}`,
    "Content-Description: Delivery report",
    `Content-Type: ${statusType}`,
    "",
    status + `--${boundary}`,
    `Content-Description: ${full ? "Undelivered Message" : "Undelivered Message Headers"}`,
    `Content-Type: ${originalType}`,
    ...(eightBit ? ["Content-Transfer-Encoding: 8bit"] : []),
    "",
    "",
  ].join(CRLF);
  // RFC 2046 §5.1.1: the line break before a delimiter belongs to the delimiter, so one is added
  // to keep the original's own last line break.
  const foot = `${CRLF}--${boundary}--${CRLF}`;
  return Buffer.concat([Buffer.from(head, "utf8"), original, Buffer.from(foot, "utf8")]);
}
