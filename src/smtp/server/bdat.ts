// BDAT (RFC 3030 CHUNKING): "BDAT <size> [LAST]" followed by exactly <size> raw bytes, passed
// through untouched (no dot-stuffing, no line ending rules: binary-transparent by design). The
// size is untrusted: the bytes are always read (to stay in step with the client) but only kept
// while the message stays within smtp.maxMessageSize. A failed chunk ends the transaction, so
// later chunks of it get 503 (as Postfix does). The header section is measured as it arrives
// (smtp.maxHeaderBytes, smtp.maxHeaderFields): the chunk that breaks a limit fails the same way.
import { HeaderMeter, type HeaderLimitError } from "../../proto/header-limit.js";
import { REPLIES, reply, type Reply } from "../../proto/reply.js";
import type { SessionApi, Verb } from "./verb.js";

const SYNTAX = /^(\d{1,15})(?: +(LAST))?$/i;

const discard = (): Promise<void> => Promise.resolve();

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
      tx.bdat = { sink: opened, bytes: 0, header: new HeaderMeter(s.settings.smtp) };
    }
    const open = tx.bdat;
    if (open.bytes + size > s.settings.smtp.maxMessageSize) {
      s.log.problem("message too big", { bytes: open.bytes + size });
      await s.resetTx();
      return refuse(REPLIES.messageTooBig);
    }
    open.bytes += size;
    let failed = false;
    let headerError: HeaderLimitError | null = null;
    const ok = await s.receiveBytes(size, async (piece) => {
      if (failed || headerError !== null) return;
      if (!open.header.done && (headerError = open.header.feed(piece)) !== null) return;
      try {
        await open.sink.write(piece);
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
    if (headerError !== null) {
      // as for the size limit: the chunk that breaks it ends the transaction
      s.log.problem("message refused", {
        reason: headerError,
        bytes: open.header.bytes,
        fields: open.header.fields,
      });
      await s.resetTx();
      return s.reply(headerError === "headerTooBig" ? REPLIES.headerTooBig : REPLIES.tooManyHeaderFields);
    }
    if (!last) return s.reply(reply(250, "2.0.0", `${size} octets received`));
    s.tx = null;
    const r = (await s.safely("end", () => open.sink.end())) ?? REPLIES.queueWriteFailed;
    s.reply(r);
  },
};
