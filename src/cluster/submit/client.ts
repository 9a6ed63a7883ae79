// The sending side of remote submit (wire.ts): one queue file to one member over its SMTP port.
// A refusal, a lost connection or a timeout is a value (why it failed); the caller falls back to
// its own queue. Only a 250 to XSUBMIT means the member has the message durable. The XMEMBER
// handshake is shared with the shadow link (../shadow/link.ts).
import { isIPv6 } from "node:net";
import { parseHostPort } from "../../proto/hostport.js";
import { parseBalancers } from "../../smtp/server/proxy-preamble.js";
import type { Reply } from "../../proto/reply.js";
import type { EnvelopeDraft } from "../../queue/types.js";
import { openSession, SmtpClientError, SmtpConnection } from "../../smtp/client/index.js";
import type { Clock } from "../../world/clock.js";
import type { Dialer } from "../../world/dialer.js";
import type { MemberTls } from "../tls/member-tls.js";
import { memberSecurity } from "../tls/smtp-side.js";
import { MEMBER_VERB, memberProof, submitCommand } from "./wire.js";

export interface RemoteSubmitClientOptions {
  readonly secret: string;
  readonly nodeId: string;
  readonly helo: string;
  readonly dialer: Dialer;
  readonly clock: Clock;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** For the 250 after the bytes: the receiver fsyncs before it answers. */
  readonly dataTimeoutMs: number;
  /**
   * This node's smtp.proxyProtocolFrom. Members share their role's settings, so when the address
   * this connection leaves from is listed there, the member expects a PROXY header from it too
   * (it would wait for one and never greet): one naming this node itself is sent first.
   */
  readonly proxyFrom?: readonly string[];
  /** Cluster TLS: STARTTLS to the member certificate of the target's node, ours presented. */
  readonly memberTls?: MemberTls | null;
}

export type RemoteSubmitResult =
  | { readonly ok: true; readonly id: string }
  /** refused: the member judged the message itself and said no for good (a 5xx to XSUBMIT). */
  | { readonly ok: false; readonly reason: string; readonly refused?: Reply };

const QUEUED_AS = /queued as (\S+)/i;
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A session with `target` that has passed XMEMBER: ready for XSUBMIT or XSHADOW. A refusal is a
 * reason (string); the caller owns the connection it gets and destroys it.
 */
export async function openMemberSession(
  o: RemoteSubmitClientOptions,
  target: { readonly id: string; readonly smtp: string },
): Promise<SmtpConnection | string> {
  let hp: { host: string; port: number };
  try {
    hp = parseHostPort(target.smtp);
  } catch {
    return `member ${target.id} advertises an unusable SMTP address`;
  }
  const socket = await o.dialer.connect({ host: hp.host, port: hp.port, timeoutMs: o.connectTimeoutMs });
  const proxied = o.proxyFrom === undefined ? () => false : parseBalancers(o.proxyFrom);
  const { localAddress: from, remoteAddress: to, localPort, remotePort } = socket;
  if (from !== undefined && to !== undefined && proxied(from))
    socket.write(`PROXY ${isIPv6(from) ? "TCP6" : "TCP4"} ${from} ${to} ${localPort} ${remotePort}\r\n`);
  const conn = new SmtpConnection(socket, { host: hp.host, address: hp.host, port: hp.port }, o.clock);
  try {
    const client = {
      helo: o.helo,
      starttls: false,
      connectTimeoutMs: o.connectTimeoutMs,
      commandTimeoutMs: o.commandTimeoutMs,
      dataTimeoutMs: o.dataTimeoutMs,
      chunking: false,
    };
    const opened =
      o.memberTls != null
        ? await openSession(conn, client, memberSecurity(o.memberTls, target.id))
        : await openSession(conn, client);
    if (opened.kind === "unmet") throw new Refused(`member TLS: ${opened.reply.text}`);
    if (opened.kind !== "ready")
      throw new Refused(`${opened.stage} refused: ${opened.reply.code} ${opened.reply.text}`);
    conn.write(`${MEMBER_VERB} ${o.nodeId}\r\n`);
    const challenge = await conn.readReply(o.commandTimeoutMs, MEMBER_VERB);
    if (challenge.code !== 334)
      throw new Refused(`${MEMBER_VERB} refused: ${challenge.code} ${challenge.text}`);
    conn.write(`${memberProof(o.secret, challenge.text.trim(), o.nodeId)}\r\n`);
    const authed = await conn.readReply(o.commandTimeoutMs, "member proof");
    if (authed.code !== 235)
      throw new Refused(`member authentication refused: ${authed.code} ${authed.text}`);
    return conn;
  } catch (e) {
    conn.destroy();
    if (e instanceof Refused) return e.message;
    // A member certificate that does not check out is a refusal like any other, said as such.
    if (e instanceof SmtpClientError && e.kind === "untrusted") return e.message;
    throw e;
  }
}

class Refused extends Error {}

export async function submitToMember(
  o: RemoteSubmitClientOptions,
  target: { readonly id: string; readonly smtp: string },
  draft: EnvelopeDraft,
  message: Buffer,
): Promise<RemoteSubmitResult> {
  let conn: SmtpConnection | null = null;
  try {
    const opened = await openMemberSession(o, target);
    if (typeof opened === "string") return { ok: false, reason: opened };
    conn = opened;
    const envelope = Buffer.from(JSON.stringify(draft), "utf8");
    conn.write(submitCommand(envelope, message));
    conn.write(envelope);
    conn.write(message);
    const done = await conn.readReply(o.dataTimeoutMs, "XSUBMIT");
    if (done.code !== 250) {
      const reason = `XSUBMIT refused: ${done.code} ${done.text}`;
      return done.code >= 500 ? { ok: false, reason, refused: done } : { ok: false, reason };
    }
    const id = QUEUED_AS.exec(done.text)?.[1] ?? "";
    // The message is theirs now; a failing QUIT changes nothing.
    await conn.quit(o.commandTimeoutMs).catch(() => undefined);
    return { ok: true, id };
  } catch (e) {
    return { ok: false, reason: errorText(e) };
  } finally {
    conn?.destroy();
  }
}
