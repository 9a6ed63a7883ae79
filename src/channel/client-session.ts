// Opening a delivery-channel session on a connected socket: greeting (which carries the nonce),
// LHLO, and AUTH X-MAILYARD-HMAC when this node has the cluster secret. A node with the secret
// talks only to a server that offers the mechanism: anything else is not a cluster member, or is
// misconfigured, and gets no mail. A refusal is a value; a lost connection, a timeout or a
// garbled reply throws SmtpClientError (from the SMTP client's connection).
import { REPLIES, type Reply } from "../proto/reply.js";
import { parseExtensions, type SmtpConnection } from "../smtp/client/index.js";
import { authCommand, nonceOf, offersAuth } from "./auth.js";

export interface ChannelSessionOptions {
  /** Name given in LHLO. */
  readonly lhlo: string;
  readonly secret: string | null;
  readonly nodeId: string;
  readonly timeoutMs: number;
}

export type ChannelOpen =
  | { readonly kind: "ready" }
  | { readonly kind: "refused"; readonly stage: "greeting" | "LHLO" | "AUTH"; readonly reply: Reply };

export async function openChannelSession(
  conn: SmtpConnection,
  o: ChannelSessionOptions,
): Promise<ChannelOpen> {
  const greeting = await conn.readReply(o.timeoutMs, "greeting");
  if (greeting.code !== 220) return { kind: "refused", stage: "greeting", reply: greeting };
  conn.write(`LHLO ${o.lhlo}\r\n`);
  const hello = await conn.readReply(o.timeoutMs, "LHLO");
  if (hello.code !== 250) return { kind: "refused", stage: "LHLO", reply: hello };
  conn.extensions = parseExtensions(hello);
  if (o.secret === null) return { kind: "ready" };
  const challenge = nonceOf(greeting.text);
  if (!offersAuth(hello.text) || challenge === null) {
    return {
      kind: "refused",
      stage: "AUTH",
      reply: REPLIES.noClusterAuth({ relay: conn.relay }),
    };
  }
  conn.write(authCommand(o.secret, challenge, o.nodeId));
  const r = await conn.readReply(o.timeoutMs, "AUTH");
  if (r.code !== 235) return { kind: "refused", stage: "AUTH", reply: r };
  return { kind: "ready" };
}
