// A member's TLS identity and trust for the links between members (issue 18): its certificate
// and key, the cluster CA bundle it trusts, from <dataDir>/tls/ (ca.ts writes them). Every
// inter-node link is mutual TLS with these: the server asks for a client certificate and
// refuses one that does not chain to the CA (OpenSSL, during the handshake), and each side then
// checks that the peer's certificate names the node it claims or was expected to be (the
// secret-based proofs stay, as a second factor).
//
// The files are looked at every cluster.tlsReloadSeconds (size, mtime, inode): a renewed
// certificate or a new CA bundle is loaded without a restart. New connections use the new
// context; tls.Servers get it through setSecureContext (onChange). A set of files that does not
// load (a key that does not match, a certificate for another node, an expired one, a
// half-copied file) is logged and the previous context kept.
import { X509Certificate, createPrivateKey, constants } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import tls, { type SecureContext, type TLSSocket } from "node:tls";
import type { Log } from "../../log/logger.js";
import type { Clock, TimerHandle } from "../../world/clock.js";
import { CA_CERT, MEMBER_CERT, MEMBER_KEY, splitPem } from "./ca.js";
import { MEMBER_SNI, certNodeId } from "./names.js";

export type ClusterTlsMode = "auto" | "required" | "off";

export interface MemberTls {
  readonly nodeId: string;
  readonly dir: string;
  /** The current context: member certificate and key, the CA bundle as trust. */
  context(): SecureContext;
  /** For a server-side TLSSocket or tls.Server: a client certificate from the CA is required. */
  serverOptions(): tls.TlsOptions & { secureContext: SecureContext };
  /** For tls.connect to a member: our certificate, the CA bundle; the peer is checked after. */
  connectOptions(): tls.ConnectionOptions;
  /**
   * Why the peer of a finished handshake is not a member (or not member `expected`), null
   * when it is.
   */
  refusal(socket: TLSSocket, expected: string | null): string | null;
  /** The node id of a verified member peer, else null. */
  peerId(socket: TLSSocket): string | null;
  /** Called with the new context after a reload. */
  onChange(fn: (context: SecureContext) => void): void;
  /** Look at the files now; true when a changed set was loaded. */
  check(): boolean;
  stop(): void;
}

export class MemberTlsError extends Error {}

interface Loaded {
  readonly context: SecureContext;
  readonly stamp: string;
  readonly notAfter: string;
  readonly cas: readonly X509Certificate[];
}

const FILES = [CA_CERT, MEMBER_CERT, MEMBER_KEY] as const;

function stampOf(dir: string): string {
  return FILES.map((f) => {
    const s = statSync(join(dir, f));
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  }).join("|");
}

/** Reads and checks the three files; throws MemberTlsError saying what is wrong. */
function load(dir: string, nodeId: string, now: number): Loaded {
  const stamp = stampOf(dir);
  const keyPath = join(dir, MEMBER_KEY);
  if ((statSync(keyPath).mode & 0o077) !== 0)
    throw new MemberTlsError(`${keyPath} is readable by others: chmod 600 it`);
  const bundle = readFileSync(join(dir, CA_CERT), "utf8");
  const certText = readFileSync(join(dir, MEMBER_CERT), "utf8");
  const keyText = readFileSync(keyPath, "utf8");
  const cas = splitPem(bundle).map((p) => new X509Certificate(p));
  if (cas.length === 0) throw new MemberTlsError(`${join(dir, CA_CERT)} holds no certificate`);
  const cert = new X509Certificate(certText);
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  if (cn !== nodeId)
    throw new MemberTlsError(
      `${join(dir, MEMBER_CERT)} is for node ${JSON.stringify(cn ?? "")}, not ${nodeId}`,
    );
  if (!cas.some((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey)))
    throw new MemberTlsError(`${join(dir, MEMBER_CERT)} is not signed by a CA in ${CA_CERT}`);
  if (!cert.checkPrivateKey(createPrivateKey(keyText)))
    throw new MemberTlsError(`${keyPath} is not the key of ${MEMBER_CERT}`);
  if (Date.parse(cert.validTo) <= now || Date.parse(cert.validFrom) > now)
    throw new MemberTlsError(
      `${join(dir, MEMBER_CERT)} is not valid now (${cert.validFrom} to ${cert.validTo})`,
    );
  const context = tls.createSecureContext({
    cert: certText,
    key: keyText,
    // One by one: a bundle edited by hand may lack the newline between two certificates.
    ca: splitPem(bundle),
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    minVersion: "TLSv1.2",
  });
  return { context, stamp, notAfter: cert.validTo, cas };
}

export interface MemberTlsOptions {
  readonly dir: string;
  readonly nodeId: string;
  readonly clock: Clock;
  /** Tag CLUSTER. */
  readonly log: Log;
  /** How often the files are looked at (0: never). */
  readonly reloadMs: number;
}

export function openMemberTls(o: MemberTlsOptions): MemberTls {
  const { log } = o;
  let current = load(o.dir, o.nodeId, o.clock.now());
  log.major("cluster TLS loaded", { dir: o.dir, notAfter: current.notAfter, cas: current.cas.length });
  const watchers: ((c: SecureContext) => void)[] = [];
  let timer: TimerHandle | null = null;
  let stopped = false;
  let failedStamp = "";

  const check = (): boolean => {
    let stamp: string;
    try {
      stamp = stampOf(o.dir);
    } catch {
      // A file being replaced (rename in flight, or removed): looked at again next time.
      return false;
    }
    if (stamp === current.stamp || stamp === failedStamp) return false;
    try {
      current = load(o.dir, o.nodeId, o.clock.now());
    } catch (e) {
      failedStamp = stamp;
      log.problem("cluster TLS files not reloaded, the previous ones stay", {
        dir: o.dir,
        error: e instanceof Error ? e.message : String(e),
      });
      return false;
    }
    log.major("cluster TLS reloaded", { dir: o.dir, notAfter: current.notAfter, cas: current.cas.length });
    for (const w of watchers) w(current.context);
    return true;
  };
  const schedule = (): void => {
    if (stopped || o.reloadMs <= 0) return;
    timer = o.clock.setTimeout(() => {
      check();
      schedule();
    }, o.reloadMs);
  };
  schedule();

  /**
   * The peer's certificate judged against the CAs now trusted: Node sets `authorized` only on
   * sockets a tls.Server made, and these links wrap sockets of their own (STARTTLS, the
   * channel, the HTTP listener's sniffing), so the check is made here, the same on both sides.
   * Members' certificates are issued by the CA itself (no intermediates).
   */
  const judge = (socket: TLSSocket): { id: string } | { why: string } => {
    const peer = socket.getPeerCertificate();
    if (peer === null || peer.raw === undefined) return { why: "no certificate given" };
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(peer.raw);
    } catch {
      return { why: "unreadable certificate" };
    }
    const now = o.clock.now();
    if (Date.parse(cert.validTo) <= now || Date.parse(cert.validFrom) > now)
      return { why: `certificate not valid now (${cert.validFrom} to ${cert.validTo})` };
    const issuer = current.cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
    if (issuer === undefined) return { why: "certificate not from the cluster CA" };
    const id = certNodeId(peer);
    return id === null ? { why: "certificate names no node" } : { id };
  };
  const peerId = (socket: TLSSocket): string | null => {
    const r = judge(socket);
    return "id" in r ? r.id : null;
  };

  return {
    nodeId: o.nodeId,
    dir: o.dir,
    context: () => current.context,
    serverOptions: () => ({ secureContext: current.context, requestCert: true, rejectUnauthorized: true }),
    connectOptions: () => ({
      secureContext: current.context,
      servername: MEMBER_SNI,
      // Checked by refusal() after the handshake, which can say what was wrong.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      minVersion: "TLSv1.2",
    }),
    refusal(socket, expected) {
      const r = judge(socket);
      if ("why" in r) return r.why;
      if (expected !== null && r.id !== expected) return `certificate is for node ${r.id}, not ${expected}`;
      return null;
    },
    peerId,
    onChange: (fn) => void watchers.push(fn),
    check,
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}

/**
 * The member TLS of a node under cluster.tls: null when links stay in clear (off, or auto
 * without files). required without files is an error saying how to make them.
 */
export function memberTlsFor(mode: ClusterTlsMode, o: MemberTlsOptions): MemberTls | null {
  if (mode === "off") {
    o.log.major("cluster links are not encrypted (cluster.tls = off)");
    return null;
  }
  let present = true;
  try {
    statSync(join(o.dir, MEMBER_CERT));
  } catch {
    present = false;
  }
  if (!present) {
    if (mode === "required")
      throw new MemberTlsError(
        `cluster.tls = required, but ${join(o.dir, MEMBER_CERT)} is missing: make it where the cluster CA ` +
          `key is, with: mailyard cluster ca issue ${o.nodeId} --out ${o.dir}`,
      );
    o.log.problem("cluster links are not encrypted: no member certificate", {
      dir: o.dir,
      how: `mailyard cluster ca issue ${o.nodeId} --out ${o.dir}`,
    });
    return null;
  }
  return openMemberTls(o);
}

/**
 * Runs the client handshake with a member over `socket` and checks it is `expected` (null: any
 * member); rejects saying why not. The handshake is bounded by timeoutMs.
 */
export function secureToMember(
  memberTls: MemberTls,
  socket: import("node:net").Socket,
  expected: string | null,
  timeoutMs: number,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ ...memberTls.connectOptions(), socket });
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new Error("member TLS handshake timed out"));
    }, timeoutMs);
    secure.once("secureConnect", () => {
      clearTimeout(timer);
      const why = memberTls.refusal(secure, expected);
      if (why !== null) {
        secure.destroy();
        reject(new Error(`member TLS: ${why}`));
        return;
      }
      resolve(secure);
    });
    secure.once("error", (e: Error) => {
      clearTimeout(timer);
      secure.destroy();
      reject(new Error(`member TLS handshake failed: ${e.message}`));
    });
  });
}
