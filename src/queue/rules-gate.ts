// Server-wide and cluster-wide rules at enqueue (the seed: the enqueuer applies them to every
// message before routing, on whichever node enqueues): this node's own server rule set, then the
// cluster's, which every member runs. A Queue wrapped here reads the two rule sets when a message
// begins; with none set it is the queue itself, at no cost. With rules the
// message is held in memory until commit (its header may still change), the rules run, and:
// Reject with → the commit fails with RuleRejected (SMTP answers 5xx: the client's one report),
// Discard → nothing is queued, Add Header / Tag Subject → the header is edited, Redirect to →
// the recipients are replaced, Mirror to → a copy is queued (source "rule"), Write To Log → a
// RULES log line. Actions that need a mailbox (Store in, Mark, replies) belong to account rules
// and are logged and ignored here. A rule set that cannot be read is logged and skipped.
import type { Log } from "../log/logger.js";
import {
  decodeWords,
  encodeFieldText,
  headerBytes,
  messageView,
  sameName,
  tagSubject,
  type HeaderField,
} from "../rules/message.js";
import { evaluateRules } from "../rules/seed/evaluate.js";
import type { RuleStore } from "../rules/store.js";
import type { Envelope } from "./envelope.js";
import type { EnvelopeDraft, Incoming, Queue } from "./types.js";

/** A server or cluster rule refused the message; `text` is the rule's reply text. */
export class RuleRejected extends Error {
  constructor(readonly text: string) {
    super(`rejected by rule: ${text}`);
    this.name = "RuleRejected";
  }
}

export interface QueueRulesOptions {
  readonly store: RuleStore;
  /** This node's id (node.id): whose server rule set applies here. */
  readonly nodeId: string;
  /** Tag RULES. */
  readonly log: Log;
  readonly now: () => number;
}

type Outcome =
  | { readonly kind: "reject"; readonly text: string }
  | { readonly kind: "discard" }
  | {
      readonly kind: "queue";
      readonly draft: EnvelopeDraft;
      readonly message: Buffer;
      readonly mirrors: readonly (readonly string[])[];
    };

export function withQueueRules(queue: Queue, o: QueueRulesOptions): Queue {
  const load = async () => {
    try {
      return [
        ...(await o.store.getRules({ kind: "server", node: o.nodeId })),
        ...(await o.store.getRules({ kind: "cluster" })),
      ];
    } catch (e) {
      o.log.problem("server rules unreadable, skipped", { error: String(e) });
      return [];
    }
  };

  const apply = (rules: Awaited<ReturnType<typeof load>>, draft: EnvelopeDraft, message: Buffer): Outcome => {
    const view = messageView(message, {
      envelopeFrom: draft.returnPath,
      recipients: draft.recipients.map((r) => r.address),
      recipient: null,
      source: draft.source,
      submitAddress: draft.client?.address ?? "",
      authenticated: draft.authUser !== null,
      now: o.now(),
      zoneOffset: 0,
    });
    const ev = evaluateRules(rules, view);
    for (const e of ev.errors) o.log.problem("rule skipped", { rule: e.rule, error: e.message });
    let headers: HeaderField[] = [...view.headers];
    let edited = false;
    let recipients = draft.recipients;
    const mirrors: string[][] = [];
    for (const a of ev.actions) {
      switch (a.kind) {
        case "reject":
          return { kind: "reject", text: a.text };
        case "discard":
          o.log.major("discarded by rule", { rule: a.rule, from: draft.returnPath });
          return { kind: "discard" };
        case "addHeader":
          headers = [{ name: a.name, value: encodeFieldText(a.value) }, ...headers];
          edited = true;
          break;
        case "tagSubject": {
          const i = headers.findIndex((h) => sameName(h.name, "Subject"));
          if (i < 0) headers.push({ name: "Subject", value: encodeFieldText(a.tag) });
          else if (!decodeWords(headers[i]!.value).includes(a.tag))
            headers[i] = { name: headers[i]!.name, value: tagSubject(a.tag, headers[i]!.value) };
          edited = true;
          break;
        }
        case "redirect":
        case "forward":
          recipients = a.to.map((address) => ({ address, original: null, notify: null, orcpt: null }));
          o.log.major("redirected by rule", { rule: a.rule, targets: a.to.join(",") });
          break;
        case "mirror":
          mirrors.push([...a.to]);
          break;
        case "log":
          o.log.major("rule log", { rule: a.rule, text: a.text, from: draft.returnPath });
          break;
        case "store":
        case "mark":
        case "reply":
        case "remember":
          o.log.low("account-only rule action ignored at enqueue", { rule: a.rule, action: a.kind });
          break;
      }
    }
    const out = edited ? Buffer.concat([headerBytes(headers), message.subarray(view.bodyOffset)]) : message;
    return { kind: "queue", draft: { ...draft, recipients }, message: out, mirrors };
  };

  const mirror = async (draft: EnvelopeDraft, message: Buffer, to: readonly string[]) => {
    try {
      const recipients = to.map((address) => ({ address, original: null, notify: null, orcpt: null }));
      const env = await queue.submit({ ...draft, recipients, source: "rule" }, message);
      o.log.major("mirrored by rule", { id: env.id, targets: to.join(",") });
    } catch (e) {
      o.log.problem("rule mirror not queued", { error: String(e) });
    }
  };

  const submit = async (draft: EnvelopeDraft, message: Buffer): Promise<Envelope> => {
    const rules = await load();
    if (rules.length === 0) return queue.submit(draft, message);
    const r = apply(rules, draft, message);
    if (r.kind === "reject") throw new RuleRejected(r.text);
    // a discarded generated message has nowhere to go: an envelope that names no queue file
    if (r.kind === "discard") return { ...draft, id: "discarded", size: message.length };
    const env = await queue.submit(r.draft, r.message);
    for (const to of r.mirrors) await mirror(draft, message, to);
    return env;
  };

  return {
    ...queue,
    submit,
    async begin() {
      const rules = await load();
      if (rules.length === 0) return queue.begin();
      const inner = await queue.begin();
      if (inner === "full") return inner;
      const parts: Buffer[] = [];
      const held: Incoming = {
        id: inner.id,
        write(chunk) {
          parts.push(chunk);
          return Promise.resolve();
        },
        async commit(draft, opts) {
          const message = Buffer.concat(parts);
          const r = apply(rules, draft, message);
          if (r.kind === "reject") {
            await inner.abort();
            throw new RuleRejected(r.text);
          }
          if (r.kind === "discard") {
            await inner.abort();
            return { ...draft, id: inner.id, size: message.length };
          }
          await inner.write(r.message);
          const env = await inner.commit(r.draft, opts);
          for (const to of r.mirrors) await mirror(draft, message, to);
          return env;
        },
        abort: () => inner.abort(),
      };
      return held;
    },
  };
}
