// What every message source does to turn a message into an envelope draft: read address lists
// from header fields (nodemailer's addressparser, which knows groups, comments and quoting),
// check each envelope address as SMTP would (proto/address.ts), add the Date:, Message-ID: and
// From: fields a submitted message lacks (RFC 6409 §8), and prepend the Received: trace field
// that names the source. Addresses come from untrusted input: each is validated before it
// enters an envelope. No I/O.
import addressparser from "nodemailer/lib/addressparser";
import { parseMailbox } from "../../proto/address.js";
import { rfc5322Date } from "../../proto/date.js";
import type { EnvelopeRecipient, MessageSource } from "../../queue/envelope.js";
import type { EnvelopeDraft } from "../../queue/types.js";
import { field, hasField, joinMessage, type HeaderField, type ParsedMessage } from "./header.js";

/** The mailboxes of address-list field values, in order, duplicates (any case) once. */
export function addressesOf(values: readonly string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const v of values) {
    for (const a of addressparser(v, { flatten: true })) {
      const address = a.address.trim();
      if (address === "" || seen.has(address.toLowerCase())) continue;
      seen.add(address.toLowerCase());
      out.push(address);
    }
  }
  return out;
}

/** The address as an envelope path, or null when SMTP would refuse it. "" is the null sender. */
export function envelopeAddress(text: string, role: "sender" | "recipient"): string | null {
  const t = text.trim().replace(/^<(.*)>$/, "$1");
  const r = parseMailbox(t, { role, utf8: true });
  return r.ok ? r.address : null;
}

export const recipient = (address: string): EnvelopeRecipient => ({
  address,
  original: null,
  notify: null,
  orcpt: null,
});

export interface Completion {
  readonly now: number;
  readonly hostname: string;
  /** Random hex for a Message-ID's left part. */
  readonly unique: string;
  /** Added as From: when the message has none. */
  readonly from?: string;
}

/** Date:, Message-ID: (and From: when given) for a message that lacks them. */
export function completeHeader(m: ParsedMessage, c: Completion): ParsedMessage {
  const extra: HeaderField[] = [];
  if (!hasField(m, "From") && c.from !== undefined) extra.push(field("From", c.from));
  if (!hasField(m, "Date")) extra.push(field("Date", rfc5322Date(c.now)));
  if (!hasField(m, "Message-ID")) extra.push(field("Message-ID", `<${c.unique}@${c.hostname}>`));
  return extra.length === 0 ? m : { ...m, fields: [...m.fields, ...extra] };
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

export interface SourceDraft {
  readonly source: MessageSource;
  readonly returnPath: string;
  readonly recipients: readonly string[];
  readonly authUser: string | null;
  readonly client: { readonly address: string; readonly port: number } | null;
  readonly arrival: number;
  readonly hostname: string;
  /** The "with" clause's comment: how it came in ("submission API", "sendmail", "Submitted folder"). */
  readonly via: string;
  /** "HTTP" for the API, "local" otherwise. */
  readonly protocol: string;
}

/** The envelope and the bytes to queue: the Received: field first, then the message. */
export function draftFor(m: ParsedMessage, d: SourceDraft): { draft: EnvelopeDraft; message: Buffer } {
  const ip = d.client?.address.includes(":") === true ? `IPv6:${d.client.address}` : d.client?.address;
  const from = d.client === null ? "" : `from [${ip ?? ""}] `;
  const who = d.authUser === null ? "" : `, ${d.authUser}`;
  // Folded before the date, as the SMTP path's Received: is; the parts are ours or checked.
  const text = `${from}by ${d.hostname} (Mailyard) with ${d.protocol} (${d.via}${who})`.replace(
    /[\r\n]/g,
    " ",
  );
  const date = rfc5322Date(d.arrival);
  const received = {
    name: "Received",
    value: `${text}; ${date}`,
    raw: Buffer.from(`Received: ${text};\r\n\t${date}\r\n`, "utf8").toString("latin1"),
  };
  const message = joinMessage([received, ...m.fields], m.body);
  const eightBit = message.some((b) => b >= 0x80);
  const smtputf8 = [d.returnPath, ...d.recipients].some((a) => NON_ASCII.test(a));
  return {
    message,
    draft: {
      returnPath: d.returnPath,
      recipients: d.recipients.map(recipient),
      ret: null,
      envid: null,
      body: eightBit ? "8BITMIME" : "7BIT",
      smtputf8,
      source: d.source,
      authUser: d.authUser,
      client:
        d.client === null ? null : { address: d.client.address, port: d.client.port, helo: null, tls: false },
      arrival: d.arrival,
    },
  };
}
