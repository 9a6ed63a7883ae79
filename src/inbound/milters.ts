// Filter plugins through the milter protocol (smtp.milters), as an SmtpHandler in front of the
// inbound handler, and as a whole-message filter for mail other members hand over (XSUBMIT),
// which a Remotely backend sends unfiltered so that it is filtered once, here. Used on
// frontends and single servers only; backends take mail from the delivery channel unfiltered.
//
// Per SMTP session one conversation per milter (session.ts), each step after the inbound
// handler has accepted it: connect, HELO (sent with the first MAIL), MAIL, RCPT, DATA, then
// the message as it streams: header fields, end of header, body chunks (≤ 65535 bytes each),
// end of message. The first reject, tempfail or discard of any milter decides; a milter's
// accept leaves it out for the rest of that message. The edits of every milter, in milter
// order, are applied before the message reaches the queue, so server and account rules and
// Sieve see the fields milters add (rspamd's X-Spam). While a milter that may edit the header
// or body takes part, the message's chunks are kept (by reference, once) until its end and
// written to the queue then; otherwise they pass straight through. A quarantine keeps the
// message held in the queue. Mail is never half-accepted: any refusal aborts the queue file.
import type { Log } from "../log/logger.js";
import type { Metrics } from "../log/metrics.js";
import { REPLIES, type Reply } from "../proto/reply.js";
import type { EnvelopeChange, MessageSink, SessionInfo, SmtpHandler, Transaction } from "../smtp/handler.js";
import type { EnvelopeDraft } from "../queue/types.js";
import type { Clock } from "../world/clock.js";
import {
  HeaderSplit,
  applyHeaderEdits,
  fieldValue,
  normaliseBody,
  splitFields,
  type ContentEdit,
} from "./milter/content.js";
import { MilterSession, type Edit, type MilterEvents, type Verdict } from "./milter/session.js";
import type { MilterSpec } from "./milter/spec.js";
import { BODY_CHUNK } from "../proto/milter/codec.js";

export interface MilterOptions {
  readonly specs: readonly MilterSpec[];
  readonly hostname: string;
  readonly clock: Clock;
  /** Tag MILTER. */
  readonly log: Log;
  readonly metrics: Metrics;
}

/** What the milters decided about one message. */
export type MessageVerdict =
  | { readonly kind: "reject" | "tempfail"; readonly reply: Reply }
  | { readonly kind: "discard" }
  | { readonly kind: "deliver" };

const final = (v: Verdict): v is Extract<Verdict, { kind: "reject" | "tempfail" | "discard" }> =>
  v.kind === "reject" || v.kind === "tempfail" || v.kind === "discard";

function eventsFor(o: MilterOptions): MilterEvents {
  return {
    action: (milter, action) => o.metrics.milterAction?.(milter, action),
    failure: (milter, reason, text) => {
      o.metrics.milterFailure?.(milter, reason);
      o.log.problem("milter failed", { milter, reason, error: text });
    },
  };
}

/**
 * One message's content on its way to the milters (and, at the end, to `write`): header
 * fields, end of header, body chunks coalesced to at most 65535 bytes per SMFIC_BODY.
 */
class ContentFeed {
  private readonly split = new HeaderSplit();
  header: Buffer | null = null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  verdict: Verdict = { kind: "continue" };

  constructor(private readonly milters: readonly MilterSession[]) {}

  /** Feed a chunk of the message; resolves when the milters have taken it. */
  async take(chunk: Buffer): Promise<void> {
    if (final(this.verdict)) return;
    if (this.header === null) {
      const r = this.split.push(chunk);
      if (r === null) return;
      await this.headerDone(r.header);
      chunk = r.body;
    }
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= BODY_CHUNK) await this.flushBody();
  }

  /** All bytes are in: what is still held goes out. */
  async finish(): Promise<void> {
    if (final(this.verdict)) return;
    if (this.header === null) await this.headerDone(this.split.end() ?? Buffer.alloc(0));
    await this.flushBody();
  }

  private async headerDone(header: Buffer): Promise<void> {
    this.header = header;
    const fields = splitFields(header);
    for (const m of this.milters) {
      for (const f of fields) {
        if (!m.active) break;
        if (this.decide(await m.header(f.name, fieldValue(f)))) return;
      }
      if (m.active && this.decide(await m.endOfHeaders())) return;
    }
  }

  private async flushBody(): Promise<void> {
    if (this.pendingBytes === 0 || final(this.verdict)) return;
    const body = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    for (const m of this.milters) {
      if (!m.active) continue;
      if (this.decide(await m.body(body))) return;
    }
  }

  private decide(v: Verdict): boolean {
    if (final(v)) this.verdict = v;
    return final(v);
  }
}

/** The end of message of every milter, in order: the first final verdict, and the edits. */
async function endOfMessage(
  milters: readonly MilterSession[],
  queueId: string,
): Promise<{ verdict: MessageVerdict; edits: Edit[] }> {
  const edits: Edit[] = [];
  for (const m of milters) {
    if (!m.active) continue;
    const r = await m.endOfMessage(queueId);
    if (r.verdict.kind === "reject" || r.verdict.kind === "tempfail") {
      return { verdict: { kind: r.verdict.kind, reply: r.verdict.reply }, edits: [] };
    }
    if (r.verdict.kind === "discard") return { verdict: { kind: "discard" }, edits: [] };
    edits.push(...r.edits);
  }
  return { verdict: { kind: "deliver" }, edits };
}

/** The envelope and content edits, sorted out. */
function sortEdits(edits: readonly Edit[]): {
  content: ContentEdit[];
  body: Buffer | null;
  change: EnvelopeChange;
} {
  const content: ContentEdit[] = [];
  const body: Buffer[] = [];
  let replaced = false;
  let from: string | null = null;
  const add: string[] = [];
  const remove: string[] = [];
  let hold: string | null = null;
  for (const e of edits) {
    switch (e.kind) {
      case "addheader":
      case "chgheader":
      case "insheader":
        content.push(e);
        break;
      case "replbody":
        replaced = true;
        body.push(e.chunk);
        break;
      case "chgfrom":
        from = e.from;
        break;
      case "addrcpt":
        add.push(e.rcpt);
        break;
      case "delrcpt":
        remove.push(e.rcpt);
        break;
      case "quarantine":
        hold = e.reason === "" ? "milter quarantine" : e.reason;
        break;
    }
  }
  return {
    content,
    body: replaced ? normaliseBody(Buffer.concat(body)) : null,
    change: { from, add, remove, hold },
  };
}

/** The message bytes after the header and body edits (the original chunks when there are none). */
function editedMessage(
  header: Buffer,
  chunks: readonly Buffer[],
  headerLength: number,
  content: readonly ContentEdit[],
  body: Buffer | null,
): Buffer[] {
  if (content.length === 0 && body === null) return [...chunks];
  const fields = applyHeaderEdits(splitFields(header), content);
  // Keep the original blank line (or add one when the message had no body separator).
  const tail = header.subarray(splitFieldsEnd(header));
  const blank = tail.length > 0 ? tail : Buffer.from("\r\n");
  const out: Buffer[] = [...fields.map((f) => f.raw), blank];
  if (body !== null) {
    out.push(body);
    return out;
  }
  // The original body: what follows the header in the chunks, by reference.
  let skip = headerLength;
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    out.push(skip > 0 ? c.subarray(skip) : c);
    skip = 0;
  }
  return out;
}

/** Offset of the first byte after the last field of a header section. */
function splitFieldsEnd(header: Buffer): number {
  let end = 0;
  for (const f of splitFields(header)) end = f.raw.byteOffset - header.byteOffset + f.raw.length;
  return end;
}

export function withMilters(inner: SmtpHandler, o: MilterOptions): SmtpHandler {
  const events = eventsFor(o);
  const sessions = new Map<number, { milters: MilterSession[]; discard: boolean; refused: string[] }>();
  const of = (s: SessionInfo) => sessions.get(s.id);

  const logVerdicts = (
    s: SessionInfo,
    tx: Transaction,
    milters: readonly MilterSession[],
    outcome: string,
  ) => {
    o.log.with(s.id, s.remote.address).major("milter verdicts", {
      from: tx.from,
      nrcpt: tx.rcpts.length,
      verdicts: milters.map((m) => `${m.spec.name}=${m.verdicts.join("+") || "continue"}`).join(" "),
      outcome,
    });
  };

  return {
    ...inner,

    async connect(s) {
      const r = await inner.connect(s);
      if (r !== null) return r;
      const milters = o.specs.map((spec) => new MilterSession(spec, o.clock, events));
      sessions.set(s.id, { milters, discard: false, refused: [] });
      for (const m of milters) {
        const v = await m.connect(o.hostname, {
          address: s.remote.address,
          port: s.remote.port,
          name: `[${s.remote.address}]`,
        });
        // A milter's explicit refusal at connect closes the session; a broken milter refuses
        // each later command instead (its default action), as Postfix does.
        if (v.kind === "reject") return REPLIES.milterConnectReject;
        if (v.kind === "tempfail") continue;
      }
      return null;
    },

    async mailFrom(s, from, params) {
      const r = await inner.mailFrom(s, from, params);
      const st = of(s);
      if (r.code >= 300 || st === undefined) return r;
      st.discard = false;
      st.refused = [];
      const args: string[] = [];
      if (params.size !== null) args.push(`SIZE=${params.size}`);
      if (params.body !== "7BIT") args.push(`BODY=${params.body}`);
      for (const m of st.milters) {
        const v = await m.mail(s.helo, from, args, s.authUser);
        if (v.kind === "reject" || v.kind === "tempfail") return v.reply;
        if (v.kind === "discard") {
          st.discard = true;
          break;
        }
      }
      return r;
    },

    async rcptTo(s, tx, to, params) {
      const r = await inner.rcptTo(s, tx, to, params);
      const st = of(s);
      if (r.code >= 300 || st === undefined || st.discard) return r;
      for (const m of st.milters) {
        const v = await m.rcpt(to, []);
        if (v.kind === "reject" || v.kind === "tempfail") {
          // The inbound handler has taken the recipient already: it is dropped at commit.
          st.refused.push(to);
          return v.reply;
        }
        if (v.kind === "discard") {
          st.discard = true;
          break;
        }
      }
      return r;
    },

    async openMessage(s, tx) {
      const st = of(s);
      if (st === undefined) return inner.openMessage(s, tx);
      const opened = await inner.openMessage(s, tx);
      if (!("write" in opened)) {
        for (const m of st.milters) await m.abort();
        return opened;
      }
      const queueId = `S${s.id}`;
      if (!st.discard) {
        for (const m of st.milters) {
          const v = await m.data(queueId);
          if (v.kind === "reject" || v.kind === "tempfail") {
            await opened.abort();
            for (const n of st.milters) await n.abort();
            logVerdicts(s, tx, st.milters, v.kind);
            return v.reply;
          }
          if (v.kind === "discard") st.discard = true;
        }
      }
      return milterSink(s, tx, st, opened, queueId);
    },

    close(s) {
      const st = of(s);
      sessions.delete(s.id);
      inner.close(s);
      if (st !== undefined) for (const m of st.milters) void m.quit();
    },
  };

  function milterSink(
    s: SessionInfo,
    tx: Transaction,
    st: { milters: MilterSession[]; discard: boolean; refused: string[] },
    opened: MessageSink,
    queueId: string,
  ): MessageSink {
    const milters = st.milters.filter((m) => m.active);
    const feed = new ContentFeed(milters);
    // Held until the end only while a milter may edit the header or body.
    const hold = !st.discard && milters.some((m) => m.editsContent);
    const chunks: Buffer[] = [];
    let size = 0;
    return {
      async write(chunk) {
        size += chunk.length;
        if (st.discard) return;
        if (hold) chunks.push(chunk);
        else await opened.write(chunk);
        await feed.take(chunk);
      },
      async end() {
        if (st.discard) {
          await opened.abort();
          for (const m of milters) await m.abort();
          logVerdicts(s, tx, st.milters, "discarded");
          return REPLIES.ok;
        }
        await feed.finish();
        let verdict: MessageVerdict;
        let edits: Edit[] = [];
        if (feed.verdict.kind === "reject" || feed.verdict.kind === "tempfail") {
          verdict = { kind: feed.verdict.kind, reply: feed.verdict.reply };
        } else if (feed.verdict.kind === "discard") {
          verdict = { kind: "discard" };
        } else {
          ({ verdict, edits } = await endOfMessage(milters, queueId));
        }
        if (verdict.kind !== "deliver") {
          for (const m of milters) await m.abort();
          await opened.abort();
          logVerdicts(s, tx, st.milters, verdict.kind === "discard" ? "discarded" : verdict.kind);
          return verdict.kind === "discard" ? REPLIES.ok : verdict.reply;
        }
        const sorted = sortEdits(edits);
        const change: EnvelopeChange = { ...sorted.change, remove: [...st.refused, ...sorted.change.remove] };
        const left = tx.rcpts.filter(
          (r) => !change.remove.some((g) => g.toLowerCase() === r.address.toLowerCase()),
        ).length;
        if (left + change.add.length === 0) {
          // Every recipient removed: nothing to deliver (Postfix discards such a message too).
          await opened.abort();
          logVerdicts(s, tx, st.milters, "discarded (no recipients left)");
          return REPLIES.ok;
        }
        if (hold) {
          const header = feed.header ?? Buffer.alloc(0);
          for (const piece of editedMessage(header, chunks, header.length, sorted.content, sorted.body)) {
            await opened.write(piece);
          }
          chunks.length = 0;
        }
        const envelopeEdited =
          change.from !== null || change.add.length > 0 || change.remove.length > 0 || change.hold !== null;
        if (envelopeEdited) opened.amend?.(change);
        const r = await opened.end();
        logVerdicts(
          s,
          tx,
          st.milters,
          r.code >= 300 ? `refused ${r.code}` : change.hold !== null ? "quarantined" : "accepted",
        );
        if (change.hold !== null && r.code < 300) {
          o.log.with(s.id, s.remote.address).major("quarantined by milter", { reason: change.hold, size });
        }
        return r;
      },
      async abort() {
        chunks.length = 0;
        for (const m of milters) await m.abort();
        await opened.abort();
      },
    };
  }
}

/**
 * Runs the milters over a whole message that arrived without an SMTP session of its own (a
 * remote submission, XSUBMIT): the SMTP steps are played from the envelope, then the content.
 * Returns the verdict and, to deliver, the edited draft and bytes, and whether to hold it.
 */
export async function filterWhole(
  o: MilterOptions,
  draft: EnvelopeDraft,
  message: Buffer,
): Promise<
  | { readonly kind: "reject" | "tempfail"; readonly reply: Reply }
  | { readonly kind: "discard" }
  | {
      readonly kind: "deliver";
      readonly draft: EnvelopeDraft;
      readonly message: Buffer;
      readonly hold: string | null;
    }
> {
  const events = eventsFor(o);
  const milters = o.specs.map((spec) => new MilterSession(spec, o.clock, events));
  const client = draft.client ?? { address: "127.0.0.1", port: 0, helo: o.hostname, tls: false };
  try {
    const stop = (v: Verdict) =>
      v.kind === "reject" || v.kind === "tempfail"
        ? { kind: v.kind, reply: v.reply }
        : { kind: "discard" as const };
    for (const m of milters) {
      const v = await m.connect(o.hostname, {
        address: client.address,
        port: client.port,
        name: `[${client.address}]`,
      });
      if (final(v)) return stop(v);
      const w = await m.mail(client.helo ?? o.hostname, draft.returnPath, [], draft.authUser);
      if (final(w)) return stop(w);
      for (const r of draft.recipients) {
        const x = await m.rcpt(r.address, []);
        if (final(x)) return stop(x);
      }
      const d = await m.data("XSUBMIT");
      if (final(d)) return stop(d);
    }
    const feed = new ContentFeed(milters.filter((m) => m.active));
    await feed.take(message);
    await feed.finish();
    if (final(feed.verdict)) return stop(feed.verdict);
    const { verdict, edits } = await endOfMessage(milters, "XSUBMIT");
    if (verdict.kind !== "deliver") return verdict;
    const sorted = sortEdits(edits);
    const header = feed.header ?? Buffer.alloc(0);
    const bytes = Buffer.concat(editedMessage(header, [message], header.length, sorted.content, sorted.body));
    const c = sorted.change;
    const gone = new Set(c.remove.map((a) => a.toLowerCase()));
    const recipients = [
      ...draft.recipients.filter((r) => !gone.has((r.original ?? r.address).toLowerCase())),
      ...c.add.map((address) => ({ address, original: null, notify: null, orcpt: null })),
    ];
    if (recipients.length === 0) return { kind: "discard" };
    return {
      kind: "deliver",
      draft: { ...draft, returnPath: c.from ?? draft.returnPath, recipients },
      message: bytes,
      hold: c.hold,
    };
  } finally {
    o.log.major("milter verdicts", {
      from: draft.returnPath,
      nrcpt: draft.recipients.length,
      source: draft.source,
      verdicts: milters.map((m) => `${m.spec.name}=${m.verdicts.join("+") || "continue"}`).join(" "),
    });
    for (const m of milters) await m.quit();
  }
}
