// Per-recipient delivery state as stored in state/<id>.json: the held flag and one RecipientState
// per envelope recipient, in envelope order. The file is ours but may be damaged (crash, disk,
// operator): it is checked field by field and rejected whole if anything is off.
import type { Envelope, MessageState, RecipientState } from "./envelope.js";
import { isObj, jsonObject } from "./file-json.js";

export const freshState = (): RecipientState => ({
  status: "pending",
  attempts: 0,
  nextAttempt: 0,
  lastReply: null,
  lastRelay: null,
  warningsSent: 0,
  reported: false,
});

export const freshStates = (envelope: Envelope): RecipientState[] => envelope.recipients.map(freshState);

const count = (v: unknown): boolean => typeof v === "number" && Number.isInteger(v) && v >= 0;

const replyOk = (v: unknown): boolean =>
  v === null ||
  (isObj(v) &&
    count(v.code) &&
    (v.enhanced === null || typeof v.enhanced === "string") &&
    typeof v.text === "string");

const recipientOk = (v: unknown): boolean =>
  isObj(v) &&
  (v.status === "pending" || v.status === "delivered" || v.status === "bounced") &&
  count(v.attempts) &&
  count(v.nextAttempt) &&
  replyOk(v.lastReply) &&
  (v.lastRelay === null || typeof v.lastRelay === "string") &&
  count(v.warningsSent) &&
  typeof v.reported === "boolean";

export function parseState(
  raw: Buffer,
  recipients: number,
): { state: MessageState; recipients: RecipientState[] } | string {
  const v = jsonObject(raw, "state");
  if (typeof v === "string") return v;
  if (v.state !== "active" && v.state !== "held") return "state flag is invalid";
  if (!Array.isArray(v.recipients) || v.recipients.length !== recipients) return "recipient count differs";
  if (!v.recipients.every(recipientOk)) return "recipient state is invalid";
  return { state: v.state, recipients: v.recipients as RecipientState[] };
}
