// One LMTP transaction on an open channel session (RFC 2033 §4.2): MAIL, RCPT per recipient and
// DATA leave in a single write when the server offers PIPELINING (RFC 2920), then the message,
// then one reply per accepted recipient, in RCPT order. The result records every reply; what
// they mean for delivery is decided in outcomes.ts. A broken conversation is recorded, never
// thrown.
import type { Reply } from "../proto/reply.js";
import {
  SmtpClientError,
  mailCommand,
  rcptCommand,
  type SmtpConnection,
  type TransactionInput,
} from "../smtp/client/index.js";

export interface LmtpResult {
  /** null: the conversation broke before this reply arrived. */
  readonly mail: Reply | null;
  readonly rcpt: readonly (Reply | null)[];
  readonly data: Reply | null;
  /** Per recipient: the reply after the message; null when not accepted or none arrived. */
  readonly delivery: readonly (Reply | null)[];
  readonly error: SmtpClientError | null;
  /** What the connection is good for afterwards. */
  readonly after: "reuse" | "reset" | "close";
}

const accepted = (r: Reply | null): boolean => r !== null && r.code >= 200 && r.code < 300;

export async function runLmtpTransaction(
  conn: SmtpConnection,
  input: TransactionInput,
  timeoutMs: number,
): Promise<LmtpResult> {
  const ext = conn.extensions;
  let mail: Reply | null = null;
  const rcpt: (Reply | null)[] = input.recipients.map(() => null);
  let data: Reply | null = null;
  const delivery: (Reply | null)[] = input.recipients.map(() => null);
  const result = (error: SmtpClientError | null, after: LmtpResult["after"]): LmtpResult => ({
    mail,
    rcpt,
    data,
    delivery,
    error,
    after,
  });
  try {
    const mailLine = mailCommand(input.envelope, ext);
    const rcptLines = input.recipients.map((r) => rcptCommand(r, ext));
    if (ext.pipelining) {
      conn.write(mailLine + rcptLines.join("") + "DATA\r\n");
      mail = await conn.readReply(timeoutMs, "MAIL FROM");
      for (let i = 0; i < rcpt.length; i++) rcpt[i] = await conn.readReply(timeoutMs, "RCPT TO");
      data = await conn.readReply(timeoutMs, "DATA");
      if (data.code === 354 && (!accepted(mail) || !rcpt.some(accepted))) {
        // A server that says 354 with nobody accepted (RFC 2033 wants 503): end the data empty;
        // how many replies follow is anyone's guess, so the connection is not used again.
        conn.write(".\r\n");
        return result(null, "close");
      }
    } else {
      conn.write(mailLine);
      mail = await conn.readReply(timeoutMs, "MAIL FROM");
      if (!accepted(mail)) return result(null, "reuse");
      for (let i = 0; i < rcpt.length; i++) {
        conn.write(rcptLines[i] ?? "");
        rcpt[i] = await conn.readReply(timeoutMs, "RCPT TO");
      }
      if (!rcpt.some(accepted)) return result(null, "reset");
      conn.write("DATA\r\n");
      data = await conn.readReply(timeoutMs, "DATA");
    }
    if (!accepted(mail)) return result(null, "reuse");
    if (!rcpt.some(accepted) || data.code !== 354) return result(null, "reset");
    await conn.writeBody(input.body(), timeoutMs);
    for (let i = 0; i < rcpt.length; i++) {
      if (accepted(rcpt[i] ?? null)) delivery[i] = await conn.readReply(timeoutMs, "end of data");
    }
    conn.transactions++;
    return result(null, "reuse");
  } catch (e) {
    const err = e instanceof SmtpClientError ? e : new SmtpClientError("lost", String(e));
    return result(err, "close");
  }
}
