// One mail transaction on an open session: MAIL, RCPT per recipient, DATA, the body, the final
// reply (RFC 5321 §3.3). With PIPELINING (RFC 2920) MAIL, every RCPT and DATA leave in a single
// write and the replies are read in order; without it each command waits for its reply. The
// result records every reply received; deciding what they mean for delivery is the caller's job.
// With CHUNKING as well (RFC 3030) the body goes as BDAT chunks in that same write: no 354 to
// wait for, no dot-stuffing, one round trip fewer. A broken conversation is recorded in
// `error`, never thrown.
//
// LMTP mode (ClientOptions.lmtp, RFC 2033 §4.2): the same commands, then one reply per accepted
// recipient after the data, in RCPT order (`perRecipient`) instead of one `final`; LMTP has no
// BDAT here.
import type { Readable } from "node:stream";
import type { Reply } from "../../proto/reply.js";
import type { OutboundMessage, OutboundRecipient } from "./message.js";
import type { SmtpConnection } from "./connection.js";
import { SmtpClientError, asClientError } from "./errors.js";
import { mailCommand, rcptCommand, sendsChunked } from "./mail-params.js";
import type { ClientOptions } from "./options.js";

export interface TransactionInput {
  readonly envelope: OutboundMessage;
  readonly recipients: readonly OutboundRecipient[];
  /** Opened only once the server has said 354. */
  body(): Readable;
}

export interface TransactionResult {
  /** null: the conversation broke before the reply arrived. */
  readonly mail: Reply | null;
  /** One per recipient, in order; null where no reply arrived. */
  readonly rcpt: readonly (Reply | null)[];
  /** Reply to DATA (354 to go on); null with BDAT. */
  readonly data: Reply | null;
  /** The body went as BDAT chunks: `final` is the first refused chunk's reply, else LAST's. */
  readonly chunked: boolean;
  /** Reply after end of data: the server's verdict on the accepted recipients. */
  readonly final: Reply | null;
  /** LMTP: per recipient, the reply after the data; null where not accepted or none arrived. */
  readonly perRecipient: readonly (Reply | null)[] | null;
  readonly error: SmtpClientError | null;
  /** The server may still hold transaction state (MAIL accepted, transaction not finished). */
  readonly needsReset: boolean;
  /** The conversation is out of step (broken, or replies of unknown number to come): drop it. */
  readonly mustClose: boolean;
}

/** A delivery job (structurally the queue's DeliveryJob) as the input of one transaction. */
export function transactionInput(job: {
  readonly envelope: OutboundMessage;
  readonly recipients: readonly { readonly rcpt: OutboundRecipient }[];
  body(): Readable;
}): TransactionInput {
  return { envelope: job.envelope, recipients: job.recipients.map((r) => r.rcpt), body: () => job.body() };
}

const accepted = (r: Reply | null): boolean => r !== null && r.code >= 200 && r.code < 300;

export async function runTransaction(
  conn: SmtpConnection,
  input: TransactionInput,
  o: ClientOptions,
): Promise<TransactionResult> {
  const ext = conn.extensions;
  let mail: Reply | null = null;
  const rcpt: (Reply | null)[] = input.recipients.map(() => null);
  let data: Reply | null = null;
  let final: Reply | null = null;
  let chunked = false;
  const lmtp = o.lmtp === true;
  const perRecipient: (Reply | null)[] | null = lmtp ? input.recipients.map(() => null) : null;
  const result = (
    error: SmtpClientError | null,
    needsReset: boolean,
    mustClose = false,
  ): TransactionResult => ({
    mail,
    rcpt,
    data,
    chunked,
    final,
    perRecipient,
    error,
    needsReset,
    mustClose,
  });
  const cmd = o.commandTimeoutMs;
  try {
    chunked = !lmtp && sendsChunked(ext, o);
    const mailLine = mailCommand(input.envelope, ext, chunked);
    const rcptLines = input.recipients.map((r) => rcptCommand(r, ext));
    if (chunked) {
      const text = input.envelope.body !== "BINARYMIME";
      const chunks = await conn.writeChunked(mailLine + rcptLines.join(""), input.body(), cmd, text);
      mail = await conn.readReply(cmd, "MAIL FROM");
      for (let i = 0; i < rcpt.length; i++) rcpt[i] = await conn.readReply(cmd, "RCPT TO");
      // The server answers every chunk, refused ones too (RFC 3030 §2: the bytes are consumed
      // whatever the reply). The verdict is the first refusal, else the reply to LAST.
      let refused: Reply | null = null;
      for (let i = 0; i < chunks; i++) {
        const r = await conn.readReply(i === chunks - 1 ? o.dataTimeoutMs : cmd, "BDAT");
        if (!accepted(r)) refused ??= r;
        if (i === chunks - 1) final = refused ?? r;
      }
      if (!accepted(mail) || !rcpt.some(accepted)) {
        final = null;
        return result(null, accepted(mail));
      }
      conn.transactions++;
      // After a refused chunk the server may still hold the transaction: RSET before reuse.
      return result(null, refused !== null);
    }
    if (ext.pipelining) {
      conn.write(mailLine + rcptLines.join("") + "DATA\r\n");
      mail = await conn.readReply(cmd, "MAIL FROM");
      for (let i = 0; i < rcpt.length; i++) rcpt[i] = await conn.readReply(cmd, "RCPT TO");
      data = await conn.readReply(cmd, "DATA");
      if (data.code === 354 && (!accepted(mail) || !rcpt.some(accepted))) {
        // RFC 2920 §3.1: nothing to send, but the server is in DATA mode; end it empty.
        conn.write(".\r\n");
        // An LMTP server that says 354 with nobody accepted (RFC 2033 wants 503): how many
        // replies follow is anyone's guess, so the session is not used again.
        if (lmtp) return result(null, false, true);
        await conn.readReply(o.dataTimeoutMs, "end of data");
        return result(null, false);
      }
    } else {
      conn.write(mailLine);
      mail = await conn.readReply(cmd, "MAIL FROM");
      if (!accepted(mail)) return result(null, false);
      for (let i = 0; i < rcpt.length; i++) {
        conn.write(rcptLines[i] ?? "");
        rcpt[i] = await conn.readReply(cmd, "RCPT TO");
      }
      if (!rcpt.some(accepted)) return result(null, true);
      conn.write("DATA\r\n");
      data = await conn.readReply(cmd, "DATA");
    }
    if (!accepted(mail) || !rcpt.some(accepted)) return result(null, accepted(mail));
    if (data.code !== 354) return result(null, true);
    await conn.writeBody(input.body(), cmd);
    if (perRecipient === null) final = await conn.readReply(o.dataTimeoutMs, "end of data");
    else {
      for (let i = 0; i < rcpt.length; i++) {
        if (accepted(rcpt[i] ?? null)) perRecipient[i] = await conn.readReply(o.dataTimeoutMs, "end of data");
      }
    }
    conn.transactions++;
    return result(null, false);
  } catch (e) {
    return result(asClientError(e), true, true);
  }
}
