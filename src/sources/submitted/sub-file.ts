// A .sub file of the Submitted folder, read as the seed product's PIPE module reads it: an
// RFC 5322 message in the system's native line ends (no dot-stuffing, no final dot) whose header
// also tells the envelope.
//   - Envelope-From: (or Return-Path:) gives the sender; without either, the Sender: or From:
//     address; "<>" is the null sender.
//   - Envelope-To: fields, when there is at least one, are the recipients; To/Cc/Bcc are then
//     not placed into the envelope.
//   - Without Envelope-To:, the recipients are the To/Cc/Bcc addresses, less those also listed
//     in an Envelope-Ignore: field.
//   - Bcc:, Envelope-To:, Envelope-Ignore:, Envelope-From: and Return-Path: are removed from the
//     message (Return-Path: is the final delivery's to add).
// X-Mailyard-Source: pipe marks a file `mailyard sendmail` wrote while no node ran, so the
// message keeps its source tag; it is removed too. The file's content is untrusted (any local
// writer): a refusal is a reason for the .bad rename, never an exception. No I/O.
import {
  parseMessage,
  toCrlf,
  withoutFields,
  fieldValues,
  HeaderError,
  type ParsedMessage,
} from "../message/header.js";
import { addressesOf, envelopeAddress } from "../message/envelope.js";
import type { HeaderLimits } from "../../proto/header-limit.js";

export type SubFile =
  | {
      readonly ok: true;
      readonly returnPath: string;
      readonly recipients: readonly string[];
      /** The message with the envelope fields removed. */
      readonly message: ParsedMessage;
      readonly source: "submitted" | "pipe";
    }
  | { readonly ok: false; readonly reason: string };

const ENVELOPE_FIELDS = [
  "Envelope-To",
  "Envelope-Ignore",
  "Envelope-From",
  "Return-Path",
  "Bcc",
  "X-Mailyard-Source",
];

export function readSubFile(bytes: Buffer, limits?: HeaderLimits): SubFile {
  let parsed: ParsedMessage;
  try {
    parsed = parseMessage(toCrlf(bytes), limits);
  } catch (e) {
    if (e instanceof HeaderError) return { ok: false, reason: e.message };
    throw e;
  }
  const explicit = fieldValues(parsed, ["Envelope-From", "Return-Path"])[0];
  let returnPath: string;
  if (explicit !== undefined) {
    const inner = /^<\s*>$/.test(explicit.trim()) ? "" : (addressesOf([explicit])[0] ?? null);
    const checked = inner === null ? null : inner === "" ? "" : envelopeAddress(inner, "sender");
    if (checked === null) return { ok: false, reason: `bad envelope sender: ${explicit.slice(0, 100)}` };
    returnPath = checked;
  } else {
    const author =
      addressesOf(fieldValues(parsed, ["Sender"]))[0] ?? addressesOf(fieldValues(parsed, ["From"]))[0];
    returnPath = author === undefined ? "" : (envelopeAddress(author, "sender") ?? "");
  }

  const envelopeTo = fieldValues(parsed, ["Envelope-To"]);
  let candidates: string[];
  if (envelopeTo.length > 0) candidates = addressesOf(envelopeTo);
  else {
    const ignore = new Set(addressesOf(fieldValues(parsed, ["Envelope-Ignore"])).map((a) => a.toLowerCase()));
    candidates = addressesOf(fieldValues(parsed, ["To", "Cc", "Bcc"])).filter(
      (a) => !ignore.has(a.toLowerCase()),
    );
  }
  const recipients: string[] = [];
  for (const c of candidates) {
    const a = envelopeAddress(c, "recipient");
    if (a === null) return { ok: false, reason: `bad recipient address: ${c.slice(0, 100)}` };
    recipients.push(a);
  }
  if (recipients.length === 0) return { ok: false, reason: "no recipients" };
  const marked = fieldValues(parsed, ["X-Mailyard-Source"])[0]?.toLowerCase() === "pipe";
  return {
    ok: true,
    returnPath,
    recipients,
    message: withoutFields(parsed, ENVELOPE_FIELDS),
    source: marked ? "pipe" : "submitted",
  };
}
