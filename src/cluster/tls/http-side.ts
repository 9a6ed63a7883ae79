// Cluster TLS on the HTTP listener (the cluster API, admin forwarding between members), which
// also serves people and scrapers in plain HTTP: a connection whose first byte is a TLS
// handshake record (0x16) is taken as a member's, wrapped in TLS with the member certificate and
// a client certificate from the cluster CA required; anything else is plain HTTP as before. A
// request on /cluster/v1/ or signed as a peer's must come over the TLS side, from the member it
// names (requestMember, checked by the handlers). Members find each other's HTTP address in the
// cluster state, so the one listener serves both without a second advertised port.
//
// Bounds: the first byte is awaited at most FIRST_BYTE_MS, the handshake at most HANDSHAKE_MS.
import type http from "node:http";
import net from "node:net";
import tls, { TLSSocket } from "node:tls";
import type { Log } from "../../log/logger.js";
import type { MemberTls } from "./member-tls.js";
import { certNodeId } from "./names.js";

const FIRST_BYTE_MS = 10_000;
const HANDSHAKE_MS = 10_000;
const TLS_HANDSHAKE_RECORD = 0x16;

/** For https.request to member `expected`: our certificate, a chain to the CA, the node checked. */
export function memberHttpsOptions(memberTls: MemberTls, expected: string): tls.ConnectionOptions {
  return {
    ...memberTls.connectOptions(),
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => {
      const id = certNodeId(cert);
      return id === expected
        ? undefined
        : new Error(`member certificate is for node ${id ?? "?"}, not ${expected}`);
    },
  };
}

/** The member a request came from over member TLS, or null (plain HTTP, or no member certificate). */
export function requestMember(req: http.IncomingMessage, memberTls: MemberTls): string | null {
  return req.socket instanceof TLSSocket ? memberTls.peerId(req.socket) : null;
}

/** Why a request claiming to be from `claimed` is refused under cluster TLS, or null. */
export function memberRequestRefusal(
  req: http.IncomingMessage,
  memberTls: MemberTls | null | undefined,
  claimed: string,
): string | null {
  if (memberTls == null) return null;
  const member = requestMember(req, memberTls);
  if (member === null) return "cluster TLS required (a member certificate from the cluster CA)";
  if (member !== claimed) return `member certificate is for node ${member}, not ${claimed}`;
  return null;
}

export interface SniffingListener {
  readonly server: net.Server;
  /** Destroys the TLS sockets handed over (the HTTP server closes its own). */
  destroyAll(): void;
}

/** A TCP listener that hands plain connections and member-TLS connections to one HTTP server. */
export function sniffingListener(target: http.Server, memberTls: MemberTls, log: Log): SniffingListener {
  const secured = new Set<TLSSocket>();
  const server = net.createServer({ noDelay: true }, (sock) => {
    sock.on("error", () => undefined);
    const timer = setTimeout(() => sock.destroy(), FIRST_BYTE_MS);
    const onReadable = (): void => {
      const first: Buffer | null = sock.read(1) as Buffer | null;
      if (first === null) return;
      sock.off("readable", onReadable);
      clearTimeout(timer);
      sock.unshift(first);
      if (first[0] !== TLS_HANDSHAKE_RECORD) {
        target.emit("connection", sock);
        return;
      }
      const secure = new TLSSocket(sock, { ...memberTls.serverOptions(), isServer: true });
      const handshake = setTimeout(() => secure.destroy(), HANDSHAKE_MS);
      secure.on("error", (e: Error) => {
        clearTimeout(handshake);
        log.problem("member TLS refused on the HTTP listener", {
          client: sock.remoteAddress ?? "",
          error: e.message,
        });
        secure.destroy();
      });
      secure.once("secure", () => {
        clearTimeout(handshake);
        const why = memberTls.refusal(secure, null);
        if (why !== null) {
          log.problem("member TLS refused on the HTTP listener", {
            client: sock.remoteAddress ?? "",
            error: why,
          });
          secure.destroy();
          return;
        }
        secured.add(secure);
        secure.once("close", () => secured.delete(secure));
        target.emit("connection", secure);
      });
    };
    sock.on("readable", onReadable);
    sock.once("close", () => clearTimeout(timer));
  });
  return {
    server,
    destroyAll: () => {
      for (const s of secured) s.destroy();
    },
  };
}
