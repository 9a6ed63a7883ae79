// The compose form of the submission API: a JSON description of a message (from, to/cc/bcc,
// subject, text and/or html, base64 attachments) built into MIME by nodemailer's MailComposer.
// Bcc addresses become envelope recipients only: MailComposer leaves the Bcc field out of the
// message. The body is untrusted: every field is validated (zod, strict: an unknown field is an
// error naming it), addresses are checked as SMTP would, attachments are given as content only
// (file and URL access are off, so no field can make the node read a file or fetch a URL).
import MailComposer from "nodemailer/lib/mail-composer";
import { z } from "zod";
import { HttpError } from "../http/exchange.js";
import { addressesOf, envelopeAddress } from "../message/envelope.js";

const oneLine = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\r\n]*$/, "must be one line");
const addressList = z.union([oneLine(2000), z.array(oneLine(2000)).max(1000)]).optional();
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export const composeSchema = z.strictObject({
  from: oneLine(2000),
  to: addressList,
  cc: addressList,
  bcc: addressList,
  replyTo: addressList,
  subject: oneLine(998).optional(),
  text: z.string().optional(),
  html: z.string().optional(),
  inReplyTo: oneLine(998).optional(),
  references: z.union([oneLine(998), z.array(oneLine(998)).max(100)]).optional(),
  attachments: z
    .array(
      z.strictObject({
        filename: oneLine(255).min(1),
        contentType: z
          .string()
          .regex(/^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+$/, "must be a media type such as text/plain")
          .optional(),
        content: z
          .string()
          .refine((s) => BASE64.test(s.replace(/\s+/g, "")) && s.replace(/\s+/g, "").length % 4 === 0, {
            message: "must be base64",
          }),
        cid: oneLine(255).optional(),
      }),
    )
    .max(100)
    .optional(),
});

export type ComposeRequest = z.infer<typeof composeSchema>;

export interface Mailbox {
  readonly name: string;
  readonly address: string;
}

/** The mailboxes of one address field, each checked; 400 naming the entry otherwise. */
export function mailboxes(value: string | string[] | undefined, fieldName: string): Mailbox[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: Mailbox[] = [];
  list.forEach((entry, i) => {
    const where = Array.isArray(value) ? `${fieldName}[${i}]` : fieldName;
    const found = addressesOf([entry]);
    if (found.length === 0)
      throw new HttpError(400, `no address in ${JSON.stringify(entry.slice(0, 100))}`, where);
    for (const a of found) {
      const checked = envelopeAddress(a, "recipient");
      if (checked === null) throw new HttpError(400, `bad address: ${a.slice(0, 100)}`, where);
      // The display name as the client wrote it, for the header; the checked address for both.
      const name = /^(.*?)\s*</.exec(entry)?.[1]?.replace(/^"(.*)"$/, "$1") ?? "";
      out.push({ name: found.length === 1 ? name : "", address: checked });
    }
  });
  return out;
}

export interface Composed {
  readonly from: Mailbox;
  /** Envelope recipients: To, Cc and Bcc, duplicates once. */
  readonly recipients: string[];
  readonly message: Buffer;
}

/** Build the message. `messageId` and `date` are the node's (the caller makes them). */
export async function compose(
  req: ComposeRequest,
  o: { readonly messageId: string; readonly date: Date },
): Promise<Composed> {
  const from = mailboxes(req.from, "from");
  if (from.length !== 1) throw new HttpError(400, "from must be one address", "from");
  const to = mailboxes(req.to, "to");
  const cc = mailboxes(req.cc, "cc");
  const bcc = mailboxes(req.bcc, "bcc");
  const replyTo = mailboxes(req.replyTo, "replyTo");
  const seen = new Set<string>();
  const recipients = [...to, ...cc, ...bcc]
    .map((m) => m.address)
    .filter((a) => !seen.has(a.toLowerCase()) && seen.add(a.toLowerCase()) !== undefined);
  if (recipients.length === 0) throw new HttpError(400, "no recipients: give to, cc or bcc", "to");
  if (req.text === undefined && req.html === undefined && (req.attachments ?? []).length === 0)
    throw new HttpError(400, "the message is empty: give text, html or attachments", "text");
  const composer = new MailComposer({
    from: from[0]!,
    ...(to.length > 0 ? { to } : {}),
    ...(cc.length > 0 ? { cc } : {}),
    ...(bcc.length > 0 ? { bcc } : {}),
    ...(replyTo.length > 0 ? { replyTo } : {}),
    ...(req.subject !== undefined ? { subject: req.subject } : {}),
    ...(req.text !== undefined ? { text: req.text } : {}),
    ...(req.html !== undefined ? { html: req.html } : {}),
    ...(req.inReplyTo !== undefined ? { inReplyTo: req.inReplyTo } : {}),
    ...(req.references !== undefined ? { references: req.references } : {}),
    attachments: (req.attachments ?? []).map((a) => ({
      filename: a.filename,
      content: Buffer.from(a.content.replace(/\s+/g, ""), "base64"),
      ...(a.contentType !== undefined ? { contentType: a.contentType } : {}),
      ...(a.cid !== undefined ? { cid: a.cid } : {}),
    })),
    messageId: o.messageId,
    date: o.date,
    newline: "win",
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const message = await composer.compile().build();
  return { from: from[0]!, recipients, message };
}
