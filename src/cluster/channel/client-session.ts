// Opening a delivery-channel session on a connected socket: the SMTP client's LMTP mode opens it
// (greeting, which carries the nonce, and LHLO), then AUTH X-MAILYARD-HMAC when this node has
// the cluster secret. A node with the secret talks only to a server that offers the mechanism:
// anything else is not a cluster member, or is misconfigured, and gets no mail. A refusal is a
// value; a lost connection, a timeout or a garbled reply throws SmtpClientError (from the SMTP
// client's connection).
import { REPLIES, type Reply } from "../../proto/reply.js";
import { openSession, type ClientOptions, type SmtpConnection } from "../../smtp/client/index.js";
import { authCommand, nonceOf, offersAuth } from "./auth.js";

export interface ChannelSessionOptions {
  /** The SMTP client's options, in LMTP mode. */
  readonly client: ClientOptions;
  readonly secret: string | null;
  readonly nodeId: string;
}

export type ChannelOpen =
  | { readonly kind: "ready" }
  | { readonly kind: "refused"; readonly stage: "greeting" | "LHLO" | "AUTH"; readonly reply: Reply };

export async function openChannelSession(
  conn: SmtpConnection,
  o: ChannelSessionOptions,
): Promise<ChannelOpen> {
  const opened = await openSession(conn, o.client);
  if (opened.kind === "refused") {
    return { kind: "refused", stage: opened.stage === "greeting" ? "greeting" : "LHLO", reply: opened.reply };
  }
  if (o.secret === null) return { kind: "ready" };
  const challenge = nonceOf(opened.greeting.text);
  if (!offersAuth(opened.hello.text) || challenge === null) {
    return {
      kind: "refused",
      stage: "AUTH",
      reply: REPLIES.noClusterAuth({ relay: conn.relay }),
    };
  }
  conn.write(authCommand(o.secret, challenge, o.nodeId));
  const r = await conn.readReply(o.client.commandTimeoutMs, "AUTH");
  if (r.code !== 235) return { kind: "refused", stage: "AUTH", reply: r };
  return { kind: "ready" };
}
