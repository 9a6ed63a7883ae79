// BDAT (RFC 3030 CHUNKING): "BDAT <size> [LAST]" followed by exactly <size> raw bytes, with no
// dot-stuffing. The size is untrusted: the bytes are always read (to stay in step with the
// client) but only kept while the message stays within smtp.maxMessageSize. A failed chunk ends
// the transaction, so later chunks of it get 503 (as Postfix does).
//
// Only BODY=BINARYMIME may carry any bytes (RFC 3030 §3); it is stored as it is and never leaves
// over DATA. Any other body is text and the chunks are checked by the same decoder as DATA
// ("bdat" framing): CRLF line endings only, smtp.maxDataLine, and the content MAIL FROM declared,
// with DATA's replies. Bare CR or LF kept from BDAT would otherwise reach a next hop that takes
// DATA as a forged end of data (SMTP smuggling). The header section is limited too
// (smtp.maxHeaderBytes, smtp.maxHeaderFields), for a BINARYMIME message by its own measure: the
// chunk that breaks a limit fails like the others.
import { DATA_ERROR_REPLIES, DataDecoder, declaredContent } from "../../proto/dataframe.js";
import { HeaderMeter } from "../../proto/header-limit.js";
import { REPLIES, type Reply } from "../../proto/reply.js";
import type { OpenTransaction, SessionApi, Verb } from "./verb.js";

const SYNTAX = /^(\d{1,15})(?: +(LAST))?$/i;

const discard = (): Promise<void> => Promise.resolve();

const textRules = (s: SessionApi, tx: OpenTransaction): DataDecoder | null =>
  tx.params.body === "BINARYMIME"
    ? null
    : new DataDecoder(
        {
          maxBytes: s.settings.smtp.maxMessageSize,
          maxLine: s.settings.smtp.maxDataLine,
          content: declaredContent(tx.params),
          header: s.settings.smtp,
        },
        "bdat",
      );

export const bdat: Verb = {
  name: "BDAT",
  advertise: () => ["CHUNKING", "BINARYMIME"],
  async run(s: SessionApi, arg: string): Promise<void> {
    const m = SYNTAX.exec(arg);
    if (m === null) return s.reply(REPLIES.paramSyntax);
    const size = Number(m[1]);
    const last = m[2] !== undefined;
    const refuse = async (r: Reply): Promise<void> => {
      if (await s.receiveBytes(size, discard)) s.reply(r);
    };
    const tx = s.tx;
    if (tx === null) return refuse(s.helo === null ? REPLIES.needHelo : REPLIES.needMail);
    if (tx.rcpts.length === 0) {
      return refuse(tx.rcptAttempts > 0 ? REPLIES.noValidRecipients : REPLIES.needRcpt);
    }
    if (tx.bdat === null) {
      const opened = await s.safely("openMessage", () => s.handler.openMessage(s.info(), tx));
      if (opened === null || !("write" in opened)) {
        await s.resetTx();
        return refuse(opened ?? REPLIES.localError);
      }
      tx.bdat = {
        sink: opened,
        bytes: 0,
        text: textRules(s, tx),
        // a binary body is not text, but its header is (RFC 3030 §3)
        header: tx.params.body === "BINARYMIME" ? new HeaderMeter(s.settings.smtp) : null,
      };
    }
    const open = tx.bdat;
    if (open.bytes + size > s.settings.smtp.maxMessageSize) {
      s.log.problem("message too big", { bytes: open.bytes + size });
      await s.resetTx();
      return refuse(REPLIES.messageTooBig);
    }
    open.bytes += size;
    const text = open.text;
    let failed = false;
    const header = open.header;
    const broken = (): boolean => (text !== null && text.error !== null) || (header?.error ?? null) !== null;
    const ok = await s.receiveBytes(size, async (piece) => {
      if (failed || broken()) return;
      if (header !== null && !header.done && header.feed(piece) !== null) return;
      const data = text === null ? piece : text.feed(piece).data;
      if (broken() || data.length === 0) return;
      try {
        await open.sink.write(data);
      } catch (e) {
        failed = true;
        s.log.problem("message write failed", { error: String(e) });
      }
    });
    if (!ok) return; // client gone: the session aborts the open sink
    if (failed) {
      await s.resetTx();
      return s.reply(REPLIES.queueWriteFailed);
    }
    if (last) text?.close();
    const error = text?.error ?? header?.error ?? null;
    if (error !== null) {
      s.log.problem("message refused", {
        reason: error,
        bytes: text?.bytes ?? header?.bytes ?? 0,
        ...(text !== null ? { longestLine: text.longestLine } : { fields: header?.fields ?? 0 }),
      });
      await s.resetTx();
      return s.reply(DATA_ERROR_REPLIES[error]);
    }
    if (!last) return s.reply(REPLIES.chunkReceived({ size }));
    s.tx = null;
    const r = (await s.safely("end", () => open.sink.end())) ?? REPLIES.queueWriteFailed;
    s.reply(r);
  },
};
