// One mail transaction on an open session: MAIL, RCPT per recipient, DATA, the body, the final
// reply (RFC 5321 §3.3). With PIPELINING (RFC 2920) MAIL, every RCPT and DATA leave in a single
// write and the replies are read in order; without it each command waits for its reply. The
// result records every reply received; deciding what they mean for delivery is the caller's job.
// With CHUNKING as well (RFC 3030) the body goes as BDAT chunks in that same write: no 354 to
// wait for, no dot-stuffing, one round trip fewer. A broken conversation is recorded in
// `error`, never thrown.
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
  readonly error: SmtpClientError | null;
  /** The server may still hold transaction state (MAIL accepted, transaction not finished). */
  readonly needsReset: boolean;
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
  const result = (error: SmtpClientError | null, needsReset: boolean): TransactionResult => ({
    mail,
    rcpt,
    data,
    chunked,
    final,
    error,
    needsReset,
  });
  const cmd = o.commandTimeoutMs;
  try {
    chunked = sendsChunked(ext, o);
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
    final = await conn.readReply(o.dataTimeoutMs, "end of data");
    conn.transactions++;
    return result(null, false);
  } catch (e) {
    return result(asClientError(e), true);
  }
}

/** RSET (RFC 5321 §4.1.1.5) so a connection can carry another transaction; false if it did not work. */
export async function resetSession(conn: SmtpConnection, o: ClientOptions): Promise<boolean> {
  if (!conn.alive) return false;
  conn.write("RSET\r\n");
  try {
    const r = await conn.readReply(o.commandTimeoutMs, "RSET");
    return r.code === 250;
  } catch {
    return false;
  }
}
