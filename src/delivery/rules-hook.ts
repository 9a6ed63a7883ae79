// The mailbox channel's rules step (src/rules/account-run.ts decides; this carries it out): for
// an account with domain or account rules or a Sieve script, the whole message is read, the
// decision taken, redirects and forwards submitted first (source "rule", through the node's
// Submitter: a temporary refusal defers the recipient before anything is stored, so a retry
// cannot store twice; a permanent one bounces it only when that copy was the message's only
// way on, see passOn), then the copies stored (Maildir++ subfolders, flags as the ":2," info),
// then replies submitted (the reply memory was claimed when they were decided). A rule error
// never loses the message: it is stored in INBOX.
import type { Readable } from "node:stream";
import type { Account } from "../directory/directory.js";
import type { Log } from "../log/logger.js";
import { bounced, deferred, delivered, type Outcome } from "../proto/outcome.js";
import { isPermanent, reply, REPLIES, type Reply } from "../proto/reply.js";
import type { SubmitResult } from "../queue/submit.js";
import type { Envelope } from "../queue/envelope.js";
import type { DeliveryJob, EnvelopeDraft } from "../queue/types.js";
import {
  decideForAccount,
  hasAccountRules,
  INBOX_ONLY,
  type AccountDecision,
  type Generated,
} from "../rules/account-run.js";
import { messageView, parseHeader } from "../rules/message.js";
import type { Pause } from "../rules/sieve/meter.js";
import type { RuleStore } from "../rules/store.js";
import type { MaildirStore } from "../store/maildir.js";
import type { Clock } from "../world/clock.js";

export interface DeliveryRules {
  readonly store: RuleStore;
  /** This node's id (node.id): whose server rule set its enqueuer applies. */
  readonly nodeId: string;
  readonly submit: (draft: EnvelopeDraft, message: Buffer) => Promise<SubmitResult>;
  /** Tag RULES. */
  readonly log: Log;
  /** How rule evaluation gives the event loop back (rules/sieve/meter.ts); setImmediate. */
  readonly pause?: Pause;
}

const RELAY = "mailbox";
const MAX_READ = 256 * 1024 * 1024;

async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    n += b.length;
    if (n > MAX_READ) throw new Error("message too large for rules");
    parts.push(b);
  }
  return Buffer.concat(parts);
}

export async function rulesApply(r: DeliveryRules, account: Account): Promise<boolean> {
  try {
    return await hasAccountRules(r.store, account.address, account.domain);
  } catch (e) {
    r.log.problem("rules unreadable, storing in INBOX", { to: account.address, error: String(e) });
    return false;
  }
}

/** This node's server rules or the cluster's exist: the message must pass the enqueuer (queue/rules-gate.ts). */
export async function serverRulesSet(r: DeliveryRules): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([
      r.store.getRules({ kind: "server", node: r.nodeId }),
      r.store.getRules({ kind: "cluster" }),
    ]);
    return a.length > 0 || b.length > 0;
  } catch {
    return true; // unknown: the queue path decides (and logs)
  }
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/;

function eightBit(b: Buffer): boolean {
  for (const x of b) if (x > 0x7f) return true;
  return false;
}

/**
 * The envelope of a generated message. A message passed on (redirect, forward, mirror) keeps the
 * body type and SMTPUTF8 of the one it came from; a reply is labelled by what it holds. Either
 * needs SMTPUTF8 when an address or a header field is not ASCII (RFC 6531 §3.4).
 */
export function generatedDraft(g: Generated, arrival: number, original: Envelope): EnvelopeDraft {
  const relayed = g.kind !== "reply" && g.kind !== "vacation";
  const header = g.message.subarray(0, parseHeader(g.message).bodyOffset);
  const utf8 =
    (relayed && original.smtputf8) ||
    NON_ASCII.test(g.returnPath) ||
    g.to.some((t) => NON_ASCII.test(t)) ||
    eightBit(header);
  return {
    returnPath: g.returnPath,
    recipients: g.to.map((address) => ({ address, original: null, notify: null, orcpt: null })),
    ret: null,
    envid: null,
    body: relayed ? original.body : eightBit(g.message) ? "8BITMIME" : "7BIT",
    smtputf8: utf8,
    // A message passed on keeps its sender's REQUIRETLS (RFC 8689 §4.3: every hop).
    ...(relayed && original.requireTls === true ? { requireTls: true } : {}),
    source: "rule",
    authUser: null,
    client: null,
    arrival,
  };
}

/** Single-line text of a reply for a log field or a DSN's diagnostic. */
function replyLine(x: Reply): string {
  return `${x.code}${x.enhanced !== null ? ` ${x.enhanced}` : ""} ${x.text}`
    .replace(/[\r\n]+/g, " ")
    .slice(0, 400);
}

/**
 * Submits the copies the rules pass on (redirect, forward, mirror), before anything is stored.
 * Null: go on and store; else the recipient's outcome (docs/RULES.md "Generated messages").
 *
 * - A temporary refusal (4xx: a full queue, a member down) defers the recipient with nothing
 *   stored, so the retry cannot store twice. Copies taken before it in this run are submitted
 *   again then: a duplicate is preferred to a loss.
 * - A permanent refusal (5xx: a frontend's milter refused the copy as spam, a bad target) is not
 *   retried: it would be refused again until the queue gives up, days later. The other copies
 *   are still submitted. When the refused copy was the only place the message was going (no
 *   copy stored, none taken), the recipient bounces with the refusal so the sender's DSN says
 *   why, as Postfix forwarding does (a .forward or alias target that refuses the mail makes a
 *   non-delivery report). When a copy is also stored (keep, fileinto, :copy, Mirror to) or
 *   another was taken, the message reached a place the rules chose: it is delivered and the
 *   refusal logged. A failed action does not undo the others, as a Sieve run that ends in an
 *   error still keeps the message (RFC 5228 §2.10.6; Pigeonhole logs a permanent redirect
 *   failure and keeps): a "failed" DSN would be untrue, and a resend would arrive twice.
 */
async function passOn(
  r: DeliveryRules,
  clock: Clock,
  env: Envelope,
  account: Account,
  d: AccountDecision,
): Promise<Outcome | null> {
  let taken = 0;
  let refused: Reply | null = null;
  for (const g of d.generated.filter((x) => x.kind !== "reply" && x.kind !== "vacation")) {
    const res = await r.submit(generatedDraft(g, clock.now(), env), g.message);
    if (res.ok) {
      taken++;
      r.log.major("rule redirect submitted", {
        to: account.address,
        id: env.id,
        kind: g.kind,
        queued: res.id,
        targets: g.to.join(","),
      });
      continue;
    }
    const fields = {
      to: account.address,
      id: env.id,
      kind: g.kind,
      targets: g.to.join(","),
      reply: replyLine(res.reply),
    };
    if (!isPermanent(res.reply)) {
      r.log.problem("rule redirect not submitted", fields);
      return deferred(REPLIES.mailboxWriteFailed, RELAY);
    }
    r.log.problem("rule redirect refused", fields);
    refused ??= res.reply;
  }
  if (refused === null || taken > 0 || d.stores.length > 0) return null;
  const text = `redirected copy refused: ${replyLine(refused)}`;
  return bounced(reply(refused.code, refused.enhanced ?? "5.0.0", text), RELAY);
}

/** Deliver one recipient through its rules; the outcome of the recipient. */
export async function deliverWithRules(
  r: DeliveryRules,
  o: { store: MaildirStore; clock: Clock },
  job: DeliveryJob,
  account: Account,
  prepend: Buffer,
): Promise<{ outcome: Outcome; stored: number }> {
  const raw = await readAll(job.body());
  const env = job.envelope;
  const view = messageView(raw, {
    envelopeFrom: env.returnPath,
    recipients: env.recipients.map((x) => x.address),
    recipient: account.address,
    source: env.source,
    submitAddress: env.client?.address ?? "",
    authenticated: env.authUser !== null,
    now: o.clock.now(),
    zoneOffset: 0,
  });
  let d: AccountDecision;
  try {
    d = await decideForAccount(r.store, r.log, account.address, account.domain, view, r.pause);
  } catch (e) {
    r.log.problem("rules failed, storing in INBOX", { to: account.address, id: env.id, error: String(e) });
    d = INBOX_ONLY;
  }
  if (d.reject !== null) {
    r.log.major("rejected by rule", { to: account.address, id: env.id });
    const text = d.reject.replace(/[\r\n]+/g, " ").slice(0, 400);
    return { outcome: bounced(REPLIES.ruleRejected({ text }), RELAY), stored: 0 };
  }
  const passed = await passOn(r, o.clock, env, account, d);
  if (passed !== null) return { outcome: passed, stored: 0 };
  const message = d.message ?? raw;
  let stored = 0;
  for (const s of d.stores) {
    let place: { folder: string | null; flags: string } = s;
    let w;
    try {
      w = await o.store.begin(account.domain, account.localPart, prepend, place);
    } catch (e) {
      // an unusable folder name: this copy goes to INBOX instead
      r.log.problem("rule folder refused, storing in INBOX", {
        to: account.address,
        folder: s.folder,
        error: String(e),
      });
      place = { folder: null, flags: s.flags };
      w = await o.store.begin(account.domain, account.localPart, prepend, place);
    }
    try {
      await w.write(message);
      stored += (await w.commit()).size;
    } catch (e) {
      await w.abort();
      throw e;
    }
    r.log.low("stored by rule", {
      to: account.address,
      id: env.id,
      folder: place.folder ?? "INBOX",
      flags: place.flags,
    });
  }
  if (d.stores.length === 0) r.log.major("discarded by rule", { to: account.address, id: env.id });
  for (const g of d.generated.filter((x) => x.kind === "reply" || x.kind === "vacation")) {
    const res = await r.submit(generatedDraft(g, o.clock.now(), env), g.message);
    if (!res.ok) {
      r.log.problem("rule reply not submitted", {
        to: account.address,
        id: env.id,
        reply: `${res.reply.code} ${res.reply.text}`,
      });
      continue;
    }
    r.log.major("rule reply submitted", { to: account.address, id: env.id, kind: g.kind, queued: res.id });
  }
  return { outcome: delivered(REPLIES.deliveredMailbox, RELAY), stored };
}
