// Opening an SMTP session on a connected socket: greeting, EHLO (HELO when EHLO gets a 5xx,
// RFC 5321 §3.2), and opportunistic STARTTLS followed by a fresh EHLO (RFC 3207 §4.2: everything
// learned before TLS is forgotten); in LMTP mode LHLO instead (RFC 2033 §4.1), with no fallback.
// A refusal by the server is a value; a lost connection, a
// timeout, a garbled reply or a failed TLS handshake throws SmtpClientError.
import net from "node:net";
import type { Reply } from "../../proto/reply.js";
import type { SmtpConnection } from "./connection.js";
import { NO_EXTENSIONS, parseExtensions } from "./extensions.js";
import type { ClientOptions } from "./options.js";

export type SessionOpen =
  /** The greeting and the last EHLO/LHLO (or HELO) reply, for what they say beyond extensions. */
  | { readonly kind: "ready"; readonly greeting: Reply; readonly hello: Reply }
  /** The server does not want to talk to us: greeting, EHLO or HELO was not 2xx. */
  | {
      readonly kind: "refused";
      readonly stage: "greeting" | "EHLO" | "HELO" | "LHLO";
      readonly reply: Reply;
    };

export async function openSession(conn: SmtpConnection, o: ClientOptions): Promise<SessionOpen> {
  const greeting = await conn.readReply(o.commandTimeoutMs, "initial greeting");
  if (greeting.code !== 220) return { kind: "refused", stage: "greeting", reply: greeting };
  const hello = await ehlo(conn, o, greeting);
  if (hello.kind !== "ready") return hello;
  if (!o.starttls || !conn.extensions.starttls) return hello;
  conn.write("STARTTLS\r\n");
  const r = await conn.readReply(o.commandTimeoutMs, "STARTTLS");
  // A refused STARTTLS leaves the session as it was (RFC 3207 §4): go on in plaintext.
  if (r.code !== 220) return hello;
  await conn.startTls(serverName(conn.target.host), o.commandTimeoutMs, o.ca);
  conn.extensions = NO_EXTENSIONS;
  return ehlo(conn, o, greeting);
}

async function ehlo(conn: SmtpConnection, o: ClientOptions, greeting: Reply): Promise<SessionOpen> {
  const verb = o.lmtp === true ? "LHLO" : "EHLO";
  conn.write(`${verb} ${o.helo}\r\n`);
  const r = await conn.readReply(o.commandTimeoutMs, verb);
  if (r.code === 250) {
    conn.extensions = parseExtensions(r);
    return { kind: "ready", greeting, hello: r };
  }
  if (r.code < 500 || verb === "LHLO") return { kind: "refused", stage: verb, reply: r };
  conn.write(`HELO ${o.helo}\r\n`);
  const h = await conn.readReply(o.commandTimeoutMs, "HELO");
  if (h.code !== 250) return { kind: "refused", stage: "HELO", reply: h };
  conn.extensions = NO_EXTENSIONS;
  return { kind: "ready", greeting, hello: h };
}

/** SNI only for names (RFC 6066 §3 forbids literal addresses), without a trailing dot. */
function serverName(host: string): string | null {
  if (net.isIP(host) !== 0) return null;
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  return name === "" ? null : name;
}
