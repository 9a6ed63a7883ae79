// The LMTP commands of the delivery channel (RFC 2033 on top of RFC 5321), each on the session
// state below. Arguments are untrusted and validated with the SMTP engine's parsers before
// anything else sees them. Until the peer has authenticated (when a secret is set) only LHLO,
// AUTH, RSET, NOOP and QUIT work: MAIL, RCPT and DATA get 530 and admit() is never asked, so a
// peer without the secret learns nothing about recipients and delivers nothing.
import type { Log } from "../log/logger.js";
import { parseMailbox, splitPath } from "../proto/address.js";
import { DATA_ERROR_REPLIES } from "../proto/dataframe.js";
import {
  parseMailParams,
  parseRcptParams,
  type MailParameters,
  type RcptParameters,
} from "../proto/params.js";
import type { Outcome } from "../proto/outcome.js";
import { REPLIES, isPositive, reply, type Reply } from "../proto/reply.js";
import type { ClientInfo } from "../queue/envelope.js";
import type { DeliveryJob } from "../queue/types.js";
import { AUTH_MECHANISM, checkAuth } from "./auth.js";
import { channelRefusal } from "./carries.js";
import type { ReceivedData } from "./input.js";
import { channelJob } from "./job.js";
import type { ChannelLimits } from "./options.js";
import { recipientReply } from "./recipient-reply.js";

export interface ChannelTx {
  readonly from: string;
  readonly params: MailParameters;
  readonly rcpts: { readonly address: string; readonly params: RcptParameters }[];
  /** RCPT commands tried, accepted or not. */
  attempts: number;
}

/** The session as the commands see it. */
export interface ChannelState {
  readonly secret: string | null;
  readonly hostname: string;
  readonly nonce: string;
  readonly limits: ChannelLimits;
  readonly maxMessageSize: number;
  readonly log: Log;
  lhlo: string | null;
  /** The authenticated member's node id ("" when no secret is configured). */
  node: string | null;
  tx: ChannelTx | null;
  reply(r: Reply): void;
  /** A reply to a command the peer got wrong (counts towards limits.maxErrors). */
  error(r: Reply): void;
  /** Reply, then close once it is written. */
  quit(r: Reply): void;
  receiveData(): Promise<ReceivedData | null>;
  client(): ClientInfo;
  newId(): string;
  now(): number;
  admit(address: string): Promise<Reply | null>;
  deliver(job: DeliveryJob): Promise<Outcome[]>;
}

export type Command = (s: ChannelState, arg: string) => Promise<void> | void;

const ready = (s: ChannelState): Reply | null => {
  if (s.lhlo === null) return REPLIES.needLhlo;
  if (s.node === null) return REPLIES.authRequired;
  return null;
};

function lhlo(s: ChannelState, arg: string): void {
  if (arg === "" || arg.includes(" ")) return s.error(REPLIES.paramSyntax);
  s.lhlo = arg.slice(0, 255);
  s.tx = null;
  const lines = [
    s.hostname,
    "PIPELINING",
    "ENHANCEDSTATUSCODES",
    "8BITMIME",
    "SMTPUTF8",
    `SIZE ${s.maxMessageSize}`,
    "DSN",
  ];
  if (s.secret !== null) lines.push(`AUTH ${AUTH_MECHANISM}`);
  s.reply(reply(250, null, lines.join("\n")));
}

function auth(s: ChannelState, arg: string): void {
  if (s.lhlo === null) return s.error(REPLIES.needLhlo);
  if (s.secret === null) return s.error(REPLIES.notImplemented);
  if (s.node !== null) return s.error(REPLIES.alreadyAuth);
  if (s.tx !== null) return s.error(REPLIES.authInTransaction);
  const r = checkAuth(s.secret, s.nonce, arg);
  if (!r.ok) {
    // The node id the peer claimed, never the proof.
    s.log.problem("authentication failed", { node: r.nodeId ?? "", code: r.reply.code });
    return s.error(r.reply);
  }
  s.node = r.nodeId;
  s.log.info("authenticated", { node: r.nodeId });
  s.reply(REPLIES.authOk);
}

function mail(s: ChannelState, arg: string): void {
  const refuse = ready(s);
  if (refuse !== null) return s.error(refuse);
  if (s.tx !== null) return s.error(REPLIES.alreadyMail);
  const split = splitPath(arg, "FROM");
  if (!split.ok) return s.error(split.reply);
  const params = parseMailParams(split.params);
  if (!params.ok) return s.error(params.reply);
  const p = params.params;
  // BINARYMIME needs BDAT (RFC 3030), which this server does not offer.
  const carried = channelRefusal(p.body);
  if (carried !== null) return s.error(carried);
  const from = parseMailbox(split.path, { role: "sender", utf8: p.smtputf8 });
  if (!from.ok) return s.error(from.reply);
  if (p.size !== null && p.size > s.maxMessageSize) return s.reply(REPLIES.messageTooBig);
  s.tx = { from: from.address, params: p, rcpts: [], attempts: 0 };
  s.reply(REPLIES.okSender);
}

async function rcpt(s: ChannelState, arg: string): Promise<void> {
  const refuse = ready(s);
  if (refuse !== null) return s.error(refuse);
  const tx = s.tx;
  if (tx === null) return s.error(REPLIES.needMail);
  tx.attempts++;
  const split = splitPath(arg, "TO");
  if (!split.ok) return s.error(split.reply);
  const params = parseRcptParams(split.params);
  if (!params.ok) return s.error(params.reply);
  const to = parseMailbox(split.path, { role: "recipient", utf8: tx.params.smtputf8 });
  if (!to.ok) return s.error(to.reply);
  if (tx.rcpts.length >= s.limits.maxRecipients) return s.reply(REPLIES.tooManyRecipients);
  const address = to.address === "Postmaster" ? `postmaster@${s.hostname}` : to.address;
  let refusal: Reply | null;
  try {
    refusal = await s.admit(address);
  } catch (e) {
    s.log.problem("recipient check failed", {
      to: address,
      error: e instanceof Error ? e.message : String(e),
    });
    refusal = REPLIES.localError;
  }
  if (refusal !== null && isPositive(refusal)) refusal = null;
  if (refusal === null) tx.rcpts.push({ address, params: params.params });
  s.reply(refusal ?? REPLIES.okRecipient);
}

async function data(s: ChannelState, arg: string): Promise<void> {
  if (arg !== "") return s.error(REPLIES.paramSyntax);
  const refuse = ready(s);
  if (refuse !== null) return s.error(refuse);
  const tx = s.tx;
  if (tx === null) return s.error(REPLIES.needMail);
  // RFC 2033 §4.2: no successful RCPT, DATA fails with 503.
  if (tx.rcpts.length === 0) return s.error(tx.attempts > 0 ? REPLIES.lmtpNoRecipients : REPLIES.needRcpt);
  s.reply(REPLIES.startData);
  const got = await s.receiveData();
  s.tx = null;
  if (got === null) return;
  const id = s.newId();
  if (!got.ok) {
    s.log.problem("message refused", { id, node: s.node, reason: got.error });
    for (const r of tx.rcpts) s.reply(recipientReplyFor(r.address, DATA_ERROR_REPLIES[got.error]));
    return;
  }
  const job = channelJob({
    id,
    from: tx.from,
    params: tx.params,
    rcpts: tx.rcpts,
    message: got.message,
    arrival: s.now(),
    client: s.client(),
  });
  s.log.info("message received", {
    id,
    node: s.node,
    from: tx.from,
    rcpts: tx.rcpts.length,
    size: got.message.length,
  });
  let outcomes: Outcome[];
  try {
    outcomes = await s.deliver(job);
  } catch (e) {
    // A bug in delivery: every recipient is retried by the sender, nothing is lost.
    s.log.failure("delivery failed", { id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    outcomes = [];
  }
  // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
  tx.rcpts.forEach((r, i) => {
    const answer = recipientReply(r.address, outcomes[i]);
    s.log.low("recipient reply", { id, to: r.address, code: answer.code, dsn: answer.enhanced });
    s.reply(answer);
  });
}

const recipientReplyFor = (address: string, r: Reply): Reply =>
  recipientReply(address, {
    kind: r.code >= 500 ? "bounced" : "deferred",
    reply: r,
    relay: "",
    scope: "message",
  });

export const COMMANDS: ReadonlyMap<string, Command> = new Map<string, Command>([
  ["LHLO", lhlo],
  ["AUTH", auth],
  ["MAIL", mail],
  ["RCPT", rcpt],
  ["DATA", data],
  [
    "RSET",
    (s) => {
      s.tx = null;
      s.reply(REPLIES.okReset);
    },
  ],
  ["NOOP", (s) => s.reply(REPLIES.ok)],
  ["QUIT", (s) => s.quit(REPLIES.bye)],
  ["HELO", (s) => s.error(REPLIES.useLhlo)],
  ["EHLO", (s) => s.error(REPLIES.useLhlo)],
]);
