// Whether a vacation action that a script asked for is sent (RFC 5230 §4.5–4.7). The script
// result always holds the action, as Pigeonhole's does; this decision is taken when the result
// is carried out, with the reply memory: never to the null sender or a mailer daemon, never to
// automated or list mail, never to one of the user's own addresses, only when one of the user's
// addresses is among the message's recipients, and once per (handle, sender) per period.
import { parseAddressList } from "../addresses.js";
import { isHumanGenerated } from "../human.js";
import { fieldValues, type MessageView } from "../message.js";
import type { SieveAction } from "./interpret.js";

export type VacationAction = Extract<SieveAction, { kind: "vacation" }>;

/** The reply memory: a reply with this handle went to this sender within its period. */
export interface ReplyMemory {
  replied(account: string, handle: string, sender: string): Promise<boolean>;
  remember(account: string, handle: string, sender: string, until: number): Promise<void>;
}

export type VacationVerdict =
  | { readonly send: true }
  | {
      readonly send: false;
      readonly why: "null sender" | "automated" | "own address" | "not addressed" | "replied";
    };

export function vacationVerdict(
  a: VacationAction,
  view: MessageView,
  repliedBefore: boolean,
  otherAddresses: readonly string[] = [],
): VacationVerdict {
  const sender = a.to.toLowerCase();
  if (sender === "") return { send: false, why: "null sender" };
  if (!isHumanGenerated(view)) return { send: false, why: "automated" };
  const own = [view.recipient ?? "", ...otherAddresses, ...a.addresses]
    .filter((x) => x !== "")
    .map((x) => x.toLowerCase());
  if (own.includes(sender)) return { send: false, why: "own address" };
  const listed = ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"].flatMap((h) =>
    fieldValues(view, h).flatMap((v) => parseAddressList(v).map((x) => x.address.toLowerCase())),
  );
  if (!listed.some((x) => own.includes(x))) return { send: false, why: "not addressed" };
  if (repliedBefore) return { send: false, why: "replied" };
  return { send: true };
}
