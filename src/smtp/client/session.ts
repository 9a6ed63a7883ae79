// Opening an SMTP session on a connected socket: greeting, EHLO (HELO when EHLO gets a 5xx,
// RFC 5321 §3.2), and STARTTLS followed by a fresh EHLO (RFC 3207 §4.2: everything learned before
// TLS is forgotten); in LMTP mode LHLO instead (RFC 2033 §4.1), with no fallback. The session's
// security says more for a smarthost: TLS from the first byte (RFC 8314) or STARTTLS required,
// the certificate verified, and AUTH (RFC 4954) with PLAIN or LOGIN, only ever over TLS.
// A refusal by the server, or a requirement the server cannot meet, is a value; a lost
// connection, a timeout, a garbled reply or a failed TLS handshake throws SmtpClientError.
import net from "node:net";
import type { TlsaRecord } from "../../proto/dns-message.js";
import { REPLIES, replyLine, type Reply } from "../../proto/reply.js";
import { authenticate } from "./authenticate.js";
import type { SmtpConnection, TlsVerify } from "./connection.js";
import { NO_EXTENSIONS, parseExtensions } from "./extensions.js";
import type { ClientOptions } from "./options.js";
import { chooseMechanism, type Credentials } from "./sasl.js";

export type TlsMode =
  /** STARTTLS when offered and smtp.outbound.starttls allows it; certificates not checked. */
  | "opportunistic"
  /** STARTTLS must be offered and must work. */
  | "starttls"
  /** TLS from the first byte (RFC 8314 §3), as on port 465. */
  | "implicit";

export interface SessionSecurity {
  readonly tls: TlsMode;
  /**
   * Check the certificate (starttls and implicit only): a chain to `ca` (Node's root CAs when
   * undefined; several PEM texts: all of them) and the host's name as the connection's target
   * gives it, or with `tlsa` DANE's records instead (RFC 7672); null: any will do.
   */
  readonly verify: {
    readonly ca: string | readonly string[] | undefined;
    readonly tlsa?: readonly TlsaRecord[];
  } | null;
  /** Log in after TLS; null: no AUTH. */
  readonly credentials: Credentials | null;
}

/** What every session had before smarthost settings: opportunistic STARTTLS, no AUTH. */
export const OPPORTUNISTIC: SessionSecurity = { tls: "opportunistic", verify: null, credentials: null };

/** What a session without requirements (OPPORTUNISTIC) can come to. */
export type PlainOpen = Exclude<SessionOpen, { kind: "unmet" }>;

export type SessionOpen =
  /** The greeting and the last EHLO/LHLO (or HELO) reply, for what they say beyond extensions. */
  | { readonly kind: "ready"; readonly greeting: Reply; readonly hello: Reply }
  /** The server does not want to talk to us: greeting, EHLO or HELO was not 2xx. */
  | {
      readonly kind: "refused";
      readonly stage: "greeting" | "EHLO" | "HELO" | "LHLO";
      readonly reply: Reply;
    }
  /**
   * A TLS or AUTH requirement of the session's security was not met (not offered, refused by the
   * server, no usable mechanism): always temporary, whatever the server's code; `reply` says why.
   */
  | { readonly kind: "unmet"; readonly reply: Reply };

// Without requirements nothing can be unmet: opportunistic STARTTLS gives way, and there is no AUTH.
export function openSession(conn: SmtpConnection, o: ClientOptions): Promise<PlainOpen>;
export function openSession(
  conn: SmtpConnection,
  o: ClientOptions,
  sec: SessionSecurity,
): Promise<SessionOpen>;
export async function openSession(
  conn: SmtpConnection,
  o: ClientOptions,
  sec: SessionSecurity = OPPORTUNISTIC,
): Promise<SessionOpen> {
  const name = serverName(conn.target.host);
  const verify: TlsVerify | null =
    sec.verify === null
      ? null
      : {
          ca: sec.verify.ca,
          name: conn.target.host.replace(/\.$/, ""),
          ...(sec.verify.tlsa !== undefined ? { tlsa: sec.verify.tlsa } : {}),
        };
  if (sec.tls === "implicit") await conn.startTls(name, o.commandTimeoutMs, verify, o.ca);
  const greeting = await conn.readReply(o.commandTimeoutMs, "initial greeting");
  if (greeting.code !== 220) return { kind: "refused", stage: "greeting", reply: greeting };
  const hello = await ehlo(conn, o, greeting);
  if (hello.kind !== "ready") return hello;
  const secured = await startTls(conn, o, sec, { name, verify }, hello);
  if (secured.kind !== "ready" || sec.credentials === null) return secured;
  return logIn(conn, o, sec.credentials, secured);
}

async function startTls(
  conn: SmtpConnection,
  o: ClientOptions,
  sec: SessionSecurity,
  tls: { readonly name: string | null; readonly verify: TlsVerify | null },
  hello: SessionOpen & { kind: "ready" },
): Promise<SessionOpen> {
  const required = sec.tls === "starttls";
  if (sec.tls === "implicit" || (!required && !o.starttls)) return hello;
  if (!conn.extensions.starttls)
    return required ? unmet(REPLIES.tlsNotOffered({ relay: conn.relay })) : hello;
  conn.write("STARTTLS\r\n");
  const r = await conn.readReply(o.commandTimeoutMs, "STARTTLS");
  // A refused STARTTLS leaves the session as it was (RFC 3207 §4): go on in plaintext, if allowed.
  if (r.code !== 220)
    return required ? unmet(REPLIES.tlsRefused({ relay: conn.relay, said: replyLine(r) })) : hello;
  await conn.startTls(tls.name, o.commandTimeoutMs, required ? tls.verify : null, o.ca);
  conn.extensions = NO_EXTENSIONS;
  return ehlo(conn, o, hello.greeting);
}

/** AUTH after TLS; the password is never sent over a connection without it. */
async function logIn(
  conn: SmtpConnection,
  o: ClientOptions,
  c: Credentials,
  ready: SessionOpen & { kind: "ready" },
): Promise<SessionOpen> {
  if (!conn.tls) return unmet(REPLIES.authWithoutTls({ relay: conn.relay }));
  const mechanism = chooseMechanism(conn.extensions.auth);
  if (mechanism === null) {
    const offered = conn.extensions.auth.length === 0 ? "no AUTH" : `AUTH ${conn.extensions.auth.join(" ")}`;
    return unmet(REPLIES.authNotOffered({ relay: conn.relay, offered }));
  }
  const refused = await authenticate(conn, mechanism, c, o.commandTimeoutMs);
  if (refused !== null)
    return unmet(
      REPLIES.authRefused({ relay: conn.relay, stage: `AUTH ${mechanism}`, said: replyLine(refused) }),
    );
  conn.authenticated = mechanism;
  return ready;
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

const unmet = (reply: Reply): SessionOpen => ({ kind: "unmet", reply });

/** SNI only for names (RFC 6066 §3 forbids literal addresses), without a trailing dot. */
function serverName(host: string): string | null {
  if (net.isIP(host) !== 0) return null;
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  return name === "" ? null : name;
}
