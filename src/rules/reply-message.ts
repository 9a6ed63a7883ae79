// The auto-replies rules generate (the seed's Reply with, Sieve vacation) as MIME messages built
// by nodemailer's MailComposer, so that they need neither SMTPUTF8 nor 8BITMIME: non-ASCII in
// the Subject and in display names becomes RFC 2047 encoded words, the text goes out as
// text/plain; charset=utf-8 in 7bit, quoted-printable or base64 (whichever MailComposer finds
// fits), with Date, Message-ID, In-Reply-To/References and Auto-Submitted: auto-replied
// (RFC 3834 §3.1, §5). A vacation reason given with :mime is a MIME entity (RFC 5230 §5.8): its
// Content-* fields and body replace the generated text part as they are written.
//
// Inputs come from the message being answered (subject, Message-ID, References) and from the
// account's own rules (the text); the caller has decoded the subject. Pure apart from
// MailComposer's own formatting: the Message-ID and the date are given.
import MailComposer from "nodemailer/lib/mail-composer";
import { parseHeader, sameName } from "./message.js";

export interface AutoReply {
  /** The From field: an address, or "Name <address>" (vacation :from). */
  readonly from: string;
  /** The envelope sender being answered. */
  readonly to: string;
  /** Unicode text; encoded here. */
  readonly subject: string;
  /** The reply text, or with `mime` a whole MIME entity (header fields, empty line, body). */
  readonly text: string;
  readonly mime: boolean;
  /** The answered message's Message-ID field, as written, or null. */
  readonly inReplyTo: string | null;
  /** The answered message's References field, as written, or null. */
  readonly references: string | null;
  readonly now: number;
  /** With angle brackets. */
  readonly messageId: string;
}

const CRLF = "\r\n";
// RFC 5322 §3.6.4: at most this many identifiers are carried on in References
const MAX_REFERENCES = 20;

/** Message identifiers in a field value, in order. */
function msgIds(value: string | null): string[] {
  return value === null ? [] : (value.match(/<[^<>\s]+>/g) ?? []);
}

export async function composeAutoReply(r: AutoReply): Promise<Buffer> {
  const parent = msgIds(r.inReplyTo)[0] ?? null;
  // RFC 3834 §3.1.5 / RFC 5322 §3.6.4: the parent's References (or In-Reply-To), then its id
  const references = parent === null ? [] : [...msgIds(r.references), parent].slice(-MAX_REFERENCES);
  const entity = r.mime ? splitEntity(r.text) : null;
  const composer = new MailComposer({
    from: r.from,
    to: { name: "", address: r.to },
    // a subject can come from the answered message: no line breaks may reach the field
    subject: r.subject.replace(/[\r\n]+/g, " "),
    text: entity === null ? r.text.replace(/\r?\n/g, CRLF) : "",
    ...(parent !== null ? { inReplyTo: parent, references } : {}),
    headers: { "Auto-Submitted": "auto-replied", Precedence: "bulk" },
    messageId: r.messageId,
    date: new Date(r.now),
    newline: "win",
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const built = await composer.compile().build();
  return entity === null ? built : withEntity(built, entity);
}

interface Entity {
  /** The entity's Content-* fields, as written (folded lines kept). */
  readonly fields: string;
  readonly body: string;
}

/** The reason of `vacation :mime`: its Content-* header fields and its body (CRLF line ends). */
function splitEntity(text: string): Entity {
  const raw = Buffer.from(text.replace(/\r?\n/g, CRLF), "utf8");
  const { headers, bodyOffset } = parseHeader(raw);
  const content = headers.filter((h) => /^content-/i.test(h.name));
  if (!content.some((h) => sameName(h.name, "Content-Type")))
    content.unshift({ name: "Content-Type", value: "text/plain; charset=utf-8" });
  return {
    fields: content.map((h) => `${h.name}: ${h.value}${CRLF}`).join(""),
    body: raw.subarray(bodyOffset).toString("utf8"),
  };
}

/** The composed header without its Content-Type/Content-Transfer-Encoding, then the entity. */
function withEntity(built: Buffer, e: Entity): Buffer {
  const end = built.indexOf(CRLF + CRLF);
  const head = built.subarray(0, end < 0 ? built.length : end).toString("latin1");
  const kept: string[] = [];
  let skipping = false;
  for (const line of head.split(CRLF)) {
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (!skipping) kept.push(line);
      continue;
    }
    skipping = /^content-(type|transfer-encoding)\s*:/i.test(line);
    if (!skipping) kept.push(line);
  }
  const body = e.body.endsWith(CRLF) || e.body === "" ? e.body : e.body + CRLF;
  return Buffer.concat([
    Buffer.from(kept.join(CRLF) + CRLF, "latin1"),
    Buffer.from(e.fields + CRLF + body, "utf8"),
  ]);
}
