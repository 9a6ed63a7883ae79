// One milter's side of one SMTP session: negotiation (SMFIC_OPTNEG, protocol version 6), then
// each step the milter wants (its SMFIP_NO* flags and the spec's events), waiting for a reply
// only where the milter did not say it sends none (SMFIP_NR_*). Answers become verdicts; the
// edits at end of message are returned as values for milters.ts to apply.
//
// Failure policy (Postfix's milter_default_action): a milter that cannot be reached, times out,
// closes or sends what the codec refuses is closed and, per its defaultAction, either left out
// for the rest of the session (accept) or makes every later step of the session answer 4xx
// (tempfail) or 5xx (reject). A milter's reply text is untrusted: only its code class and a
// bounded, CR/LF-free text reach the client.
import {
  OFFERED_ACTIONS,
  OFFERED_PROTOCOL,
  SMFIF,
  SMFIP,
  encodeAbort,
  encodeBody,
  encodeConnect,
  encodeData,
  encodeEoh,
  encodeEob,
  encodeHeader,
  encodeHelo,
  encodeMacros,
  encodeMail,
  encodeOptneg,
  encodeQuit,
  encodeRcpt,
  type MilterReply,
} from "../../proto/milter/codec.js";
import { REPLIES, reply, type Reply } from "../../proto/reply.js";
import type { Clock } from "../../world/clock.js";
import { MilterConnection } from "./connection.js";
import type { MilterSpec } from "./spec.js";

export type Verdict =
  | { readonly kind: "continue" }
  /** This milter is done: for the message (or, at connect and HELO, for the session). */
  | { readonly kind: "accept" }
  | { readonly kind: "reject"; readonly reply: Reply }
  | { readonly kind: "tempfail"; readonly reply: Reply }
  | { readonly kind: "discard" };

export type Edit = Extract<
  MilterReply,
  {
    kind:
      "addheader" | "chgheader" | "insheader" | "chgfrom" | "addrcpt" | "delrcpt" | "replbody" | "quarantine";
  }
>;

export interface MilterEvents {
  /** A reply the milter gave (accept, continue, reject, …, and each edit). */
  action(milter: string, action: string): void;
  /** The milter failed: timeout, closed, protocol or connect. */
  failure(milter: string, reason: "timeout" | "closed" | "protocol" | "connect", text: string): void;
}

/** Progress replies accepted in a row before the milter counts as stuck. */
const MAX_PROGRESS = 10_000;
/** Edits accepted at one end of message. */
const MAX_EDITS = 10_000;

const CONTINUE: Verdict = { kind: "continue" };

/** A reply code from the milter as a Reply: "554 5.7.1 text" (text bounded, one line). */
function customReply(code: number, text: string): Reply {
  const clean = text
    .replace(/[\r\n]+/g, " ")
    .replace(/[^\x20-\x7e]/g, "?")
    .slice(0, 400);
  const m = /^([245]\.\d{1,3}\.\d{1,3})(?: +(.*))?$/.exec(clean);
  // RFC 3463 §2: the enhanced code's class must match the reply's.
  const enhanced = m !== null && m[1]![0] === String(code)[0] ? m[1]! : code >= 500 ? "5.7.1" : "4.7.1";
  const rest = m !== null ? (m[2] ?? "") : clean;
  return reply(code, enhanced, rest === "" ? (code >= 500 ? "Command rejected" : "Try again later") : rest);
}

export class MilterSession {
  private conn: MilterConnection | null = null;
  /** Negotiated: steps the milter does not want and steps it does not answer. */
  private protocol = 0;
  private actions = 0;
  /** "gone": left out for the rest of the session; "broken": every step answers `brokenReply`. */
  private state: "new" | "open" | "gone" | "broken" = "new";
  private brokenReply: Reply = REPLIES.milterTempfail;
  /** Done with the current message (accepted, or a final verdict given). */
  private messageDone = false;
  /** A MAIL was sent and no end of message or abort since. */
  private inTransaction = false;
  private heloSent = false;
  private skipBody = false;
  /** The verdicts of the current message, in order, for the log line. */
  verdicts: string[] = [];

  constructor(
    readonly spec: MilterSpec,
    private readonly clock: Clock,
    private readonly events: MilterEvents,
  ) {}

  /** Whether the milter may edit the header or the body (then the message is held until its end). */
  get editsContent(): boolean {
    return this.state === "open" && (this.actions & (SMFIF.ADDHDRS | SMFIF.CHGHDRS | SMFIF.CHGBODY)) !== 0;
  }

  /** Whether this milter still takes part in the current message. */
  get active(): boolean {
    return (this.state === "open" && !this.messageDone) || this.state === "broken";
  }

  private wants(event: "connect" | "helo" | "mail" | "rcpt" | "header" | "body", noFlag: number): boolean {
    return (
      this.state === "open" &&
      !this.messageDone &&
      this.spec.events.has(event) &&
      (this.protocol & noFlag) === 0
    );
  }

  /** Open the connection and negotiate, then send the connect step. */
  async connect(
    hostname: string,
    client: { readonly address: string; readonly port: number; readonly name: string },
  ): Promise<Verdict> {
    const c = await MilterConnection.open(this.spec.target, this.clock, this.spec.connectTimeoutMs);
    if (typeof c === "string") return this.fail("connect", c);
    this.conn = c;
    await c.send([encodeOptneg(OFFERED_ACTIONS, OFFERED_PROTOCOL)], this.spec.commandTimeoutMs);
    const r = await c.next(this.spec.commandTimeoutMs);
    if (r.kind === "failed") return this.failed(r.reason);
    if (r.kind !== "optneg") return this.fail("protocol", `expected optneg reply, got ${r.kind}`);
    if (r.version < 2) return this.fail("protocol", `milter protocol version ${r.version}`);
    // The milter may ask only for what was offered (libmilter refuses the reverse itself).
    this.actions = r.actions & OFFERED_ACTIONS;
    this.protocol = r.protocol & OFFERED_PROTOCOL;
    this.state = "open";
    if (!this.wants("connect", SMFIP.NOCONNECT)) return CONTINUE;
    const v = await this.step(
      [
        encodeMacros("C", {
          j: hostname,
          "{daemon_name}": "mailyard",
          _: `${client.name} [${client.address}]`,
        }),
        encodeConnect(client.name, client.address, client.port),
      ],
      SMFIP.NR_CONN,
      this.spec.commandTimeoutMs,
    );
    if (v.kind === "accept") this.state = "gone";
    // A tempfail at connect answers every later command of the session (Postfix does the same).
    if (v.kind === "tempfail" && this.state === "open") {
      this.state = "broken";
      this.brokenReply = v.reply;
    }
    return v;
  }

  /** A new transaction: the HELO (once), then MAIL with its ESMTP parameters. */
  async mail(
    helo: string | null,
    from: string,
    args: readonly string[],
    authUser: string | null,
  ): Promise<Verdict> {
    if (this.state === "broken") return this.brokenVerdict();
    await this.abortIfOpen();
    this.messageDone = false;
    this.skipBody = false;
    this.verdicts = [];
    if (this.state !== "open") return CONTINUE;
    if (!this.heloSent && helo !== null) {
      this.heloSent = true;
      if (this.wants("helo", SMFIP.NOHELO)) {
        const v = await this.step([encodeHelo(helo)], SMFIP.NR_HELO, this.spec.commandTimeoutMs);
        if (v.kind === "accept") {
          this.state = "gone";
          return v;
        }
        if (v.kind !== "continue") return v;
      }
    }
    this.inTransaction = true;
    if (!this.wants("mail", SMFIP.NOMAIL)) return CONTINUE;
    const macros: Record<string, string> = { "{mail_addr}": from };
    if (authUser !== null) macros["{auth_authen}"] = authUser;
    return this.messageStep(
      [encodeMacros("M", macros), encodeMail(from, args)],
      SMFIP.NR_MAIL,
      this.spec.commandTimeoutMs,
    );
  }

  async rcpt(to: string, args: readonly string[]): Promise<Verdict> {
    if (this.state === "broken") return this.brokenVerdict();
    if (!this.wants("rcpt", SMFIP.NORCPT)) return CONTINUE;
    const v = await this.step(
      [encodeMacros("R", { "{rcpt_addr}": to }), encodeRcpt(to, args)],
      SMFIP.NR_RCPT,
      this.spec.commandTimeoutMs,
    );
    // A rejected recipient is that recipient's answer only (libmilter's xxfi_envrcpt).
    if (v.kind === "accept") this.messageDone = true;
    if (v.kind === "discard") this.messageDone = true;
    this.note(v);
    return v;
  }

  async data(queueId: string): Promise<Verdict> {
    if (this.state === "broken") return this.brokenVerdict();
    if (this.state !== "open" || this.messageDone || (this.protocol & SMFIP.NODATA) !== 0) return CONTINUE;
    return this.messageStep(
      [encodeMacros("T", { i: queueId }), encodeData()],
      SMFIP.NR_DATA,
      this.spec.commandTimeoutMs,
    );
  }

  async header(name: string, value: string): Promise<Verdict> {
    if (!this.wants("header", SMFIP.NOHDRS)) return CONTINUE;
    return this.messageStep([encodeHeader(name, value)], SMFIP.NR_HDR, this.spec.contentTimeoutMs);
  }

  async endOfHeaders(): Promise<Verdict> {
    if (!this.wants("header", SMFIP.NOEOH)) return CONTINUE;
    return this.messageStep([encodeEoh()], SMFIP.NR_EOH, this.spec.contentTimeoutMs);
  }

  /** One piece of body (split into frames of at most 65535 bytes). */
  async body(piece: Buffer): Promise<Verdict> {
    if (this.skipBody || piece.length === 0 || !this.wants("body", SMFIP.NOBODY)) return CONTINUE;
    for (const f of encodeBody(piece)) {
      if (this.skipBody || this.messageDone) break;
      const v = await this.messageStep([f], SMFIP.NR_BODY, this.spec.contentTimeoutMs, true);
      if (v.kind !== "continue") return v;
    }
    return CONTINUE;
  }

  /** End of message: the edits, then the final verdict. */
  async endOfMessage(queueId: string): Promise<{ verdict: Verdict; edits: Edit[] }> {
    if (this.state === "broken") return { verdict: this.brokenVerdict(), edits: [] };
    if (this.state !== "open" || this.messageDone) return { verdict: CONTINUE, edits: [] };
    const conn = this.conn!;
    await conn.send([encodeMacros("E", { i: queueId }), encodeEob()], this.spec.contentTimeoutMs);
    const edits: Edit[] = [];
    let progress = 0;
    for (;;) {
      const r = await conn.next(this.spec.contentTimeoutMs);
      switch (r.kind) {
        case "failed":
          return { verdict: this.failed(r.reason), edits: [] };
        case "progress":
          if (++progress > MAX_PROGRESS)
            return { verdict: this.fail("protocol", "endless progress"), edits: [] };
          continue;
        case "addheader":
        case "chgheader":
        case "insheader":
        case "chgfrom":
        case "addrcpt":
        case "delrcpt":
        case "replbody":
        case "quarantine": {
          if (!this.allowed(r))
            return { verdict: this.fail("protocol", `${r.kind} not negotiated`), edits: [] };
          if (edits.length >= MAX_EDITS)
            return { verdict: this.fail("protocol", "too many edits"), edits: [] };
          this.events.action(this.spec.name, r.kind);
          edits.push(r);
          continue;
        }
        case "optneg":
        case "skip":
          return { verdict: this.fail("protocol", `unexpected ${r.kind} at end of message`), edits: [] };
        case "accept":
        case "continue":
        case "reject":
        case "tempfail":
        case "discard":
        case "replycode": {
          const v = this.verdictOf(r);
          this.inTransaction = false;
          this.messageDone = true;
          this.note(v);
          return { verdict: v, edits: v.kind === "continue" || v.kind === "accept" ? edits : [] };
        }
      }
    }
  }

  /** The message will not reach its end (client gone, refused elsewhere): tell the milter. */
  async abort(): Promise<void> {
    await this.abortIfOpen();
  }

  /** The SMTP session ends. */
  async quit(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    if (conn === null) return;
    if (conn.failed === null) await conn.send([encodeQuit()], this.spec.commandTimeoutMs);
    conn.close();
  }

  private async abortIfOpen(): Promise<void> {
    if (!this.inTransaction) return;
    this.inTransaction = false;
    if (this.state === "open" && this.conn !== null)
      await this.conn.send([encodeAbort()], this.spec.commandTimeoutMs);
  }

  private allowed(e: Edit): boolean {
    const need: Record<Edit["kind"], number> = {
      addheader: SMFIF.ADDHDRS,
      insheader: SMFIF.ADDHDRS,
      chgheader: SMFIF.CHGHDRS,
      chgfrom: SMFIF.CHGFROM,
      addrcpt: SMFIF.ADDRCPT | SMFIF.ADDRCPT_PAR,
      delrcpt: SMFIF.DELRCPT,
      replbody: SMFIF.CHGBODY,
      quarantine: SMFIF.QUARANTINE,
    };
    return (this.actions & need[e.kind]) !== 0;
  }

  /** A step of the current message: a final verdict ends the milter's part in it. */
  private async messageStep(
    frames: Buffer[],
    nrFlag: number,
    timeoutMs: number,
    body = false,
  ): Promise<Verdict> {
    const v = await this.step(frames, nrFlag, timeoutMs, body);
    if (v.kind !== "continue") this.messageDone = true;
    this.note(v);
    return v;
  }

  private note(v: Verdict): void {
    if (v.kind !== "continue") this.verdicts.push(v.kind);
  }

  /** Send, then wait for the one answer unless the milter said it sends none. */
  private async step(frames: Buffer[], nrFlag: number, timeoutMs: number, body = false): Promise<Verdict> {
    const conn = this.conn;
    if (conn === null) return CONTINUE;
    await conn.send(frames, timeoutMs);
    if ((this.protocol & nrFlag) !== 0) return conn.failed === null ? CONTINUE : this.failed(conn.failed);
    for (let progress = 0; progress <= MAX_PROGRESS; progress++) {
      const r = await conn.next(timeoutMs);
      switch (r.kind) {
        case "failed":
          return this.failed(r.reason);
        case "progress":
          continue;
        case "skip":
          // SMFIR_SKIP: no more body chunks; only valid in answer to one (and if negotiated).
          if (!body) return this.fail("protocol", "skip outside the body");
          this.skipBody = true;
          this.events.action(this.spec.name, "skip");
          return CONTINUE;
        case "accept":
        case "continue":
        case "reject":
        case "tempfail":
        case "discard":
        case "replycode":
          return this.verdictOf(r);
        case "addheader":
        case "addrcpt":
        case "chgfrom":
        case "chgheader":
        case "delrcpt":
        case "insheader":
        case "optneg":
        case "quarantine":
        case "replbody":
          // Edits belong to the end of message only (libmilter's smfi_* rules).
          return this.fail("protocol", `unexpected ${r.kind} before end of message`);
      }
    }
    return this.fail("protocol", "endless progress");
  }

  private verdictOf(
    r: Extract<
      MilterReply,
      { kind: "accept" | "continue" | "reject" | "tempfail" | "discard" | "replycode" }
    >,
  ): Verdict {
    this.events.action(
      this.spec.name,
      r.kind === "replycode" ? (r.code >= 500 ? "reject" : "tempfail") : r.kind,
    );
    switch (r.kind) {
      case "accept":
        return { kind: "accept" };
      case "continue":
        return CONTINUE;
      case "reject":
        return { kind: "reject", reply: REPLIES.milterReject };
      case "tempfail":
        return { kind: "tempfail", reply: REPLIES.milterTempfail };
      case "discard":
        return { kind: "discard" };
      case "replycode": {
        const rep = customReply(r.code, r.text);
        return rep.code >= 500 ? { kind: "reject", reply: rep } : { kind: "tempfail", reply: rep };
      }
    }
  }

  private failed(reason: string): Verdict {
    const kind = /timed out/.test(reason)
      ? "timeout"
      : /closed|socket error/.test(reason)
        ? "closed"
        : "protocol";
    return this.fail(kind, reason);
  }

  /** The milter is unusable: close it and apply its default action for the rest of the session. */
  private fail(kind: "timeout" | "closed" | "protocol" | "connect", text: string): Verdict {
    this.events.failure(this.spec.name, kind, text);
    this.conn?.close();
    this.conn = null;
    this.inTransaction = false;
    this.verdicts.push(`failed:${kind}`);
    switch (this.spec.defaultAction) {
      case "accept":
        this.state = "gone";
        return CONTINUE;
      case "tempfail":
        this.state = "broken";
        this.brokenReply = REPLIES.milterTempfail;
        return this.brokenVerdict();
      case "reject":
        this.state = "broken";
        this.brokenReply = REPLIES.milterReject;
        return this.brokenVerdict();
    }
  }

  private brokenVerdict(): Verdict {
    return this.brokenReply.code >= 500
      ? { kind: "reject", reply: this.brokenReply }
      : { kind: "tempfail", reply: this.brokenReply };
  }
}
