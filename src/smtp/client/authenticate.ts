// One AUTH exchange with PLAIN or LOGIN (sasl.ts has the lines) on an open session. The answer is
// a value: null when the server said 235, else the reply that ended it (a refusal, or a reply
// that makes no sense at that step, after which the exchange is cancelled). A lost connection or
// a timeout throws SmtpClientError from the connection, as everywhere in the client.
import type { Reply } from "../../proto/reply.js";
import type { SmtpConnection } from "./connection.js";
import {
  cancelLine,
  loginCommand,
  loginPassword,
  loginUser,
  plainCommand,
  type Credentials,
  type SaslMechanism,
} from "./sasl.js";

export async function authenticate(
  conn: SmtpConnection,
  mechanism: SaslMechanism,
  c: Credentials,
  timeoutMs: number,
): Promise<Reply | null> {
  const step = async (line: string, waitingFor: string, last: boolean): Promise<Reply | null> => {
    conn.write(line);
    const r = await conn.readReply(timeoutMs, waitingFor);
    if (r.code === (last ? 235 : 334)) return null;
    // A 334 where success was due is a challenge we have no answer for.
    if (r.code === 334) {
      conn.write(cancelLine);
      await conn.readReply(timeoutMs, "AUTH cancel");
    }
    return r;
  };
  if (mechanism === "PLAIN") return step(plainCommand(c), "AUTH PLAIN", true);
  return (
    (await step(loginCommand, "AUTH LOGIN", false)) ??
    (await step(loginUser(c), "AUTH LOGIN user name", false)) ??
    (await step(loginPassword(c), "AUTH LOGIN password", true))
  );
}
