// Per-recipient delivery state as stored in state/<id>.json: the held flag and one RecipientState
// per envelope recipient, in envelope order. The file is ours but may be damaged (crash, disk,
// operator): it is checked field by field and rejected whole if anything is off.
import type { Envelope, MessageState, RecipientState } from "./envelope.js";

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

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
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
  let v: unknown;
  try {
    v = JSON.parse(raw.toString("utf8"));
  } catch {
    return "state is not JSON";
  }
  if (!isObj(v)) return "state is not an object";
  if (v.state !== "active" && v.state !== "held") return "state flag is invalid";
  if (!Array.isArray(v.recipients) || v.recipients.length !== recipients) return "recipient count differs";
  if (!v.recipients.every(recipientOk)) return "recipient state is invalid";
  return { state: v.state, recipients: v.recipients as RecipientState[] };
}
