// Cluster TLS on a member's SMTP listener, which also serves the public: STARTTLS offers the
// public certificate unless the client asks for MEMBER_SNI, which gets the member certificate.
// Every client is asked for a certificate but none is required (outside MTAs have none); a
// session whose client presented one from the cluster CA knows the member it is
// (SessionInfo.member), which XMEMBER and `*` relaying require.
import type { SecureContext, TLSSocket } from "node:tls";
import type { SessionSecurity } from "../../smtp/client/index.js";
import type { ServerTls } from "../../smtp/kernel/core.js";
import type { MemberTls } from "./member-tls.js";
import { MEMBER_SNI } from "./names.js";

export function memberStartTls(
  publicContext: SecureContext,
  memberTls: MemberTls,
): { readonly tls: ServerTls; readonly memberOf: (socket: TLSSocket) => string | null } {
  return {
    tls: {
      socketOptions: () => ({
        secureContext: publicContext,
        requestCert: true,
        rejectUnauthorized: false,
        SNICallback: (name, done) => done(null, name === MEMBER_SNI ? memberTls.context() : publicContext),
      }),
    },
    memberOf: (socket) => memberTls.peerId(socket),
  };
}

/**
 * The SMTP client's security towards member `expected` (null: any member): STARTTLS required,
 * the member certificate asked for by SNI, ours presented, and the peer's checked.
 */
export function memberSecurity(memberTls: MemberTls, expected: string | null): SessionSecurity {
  return {
    tls: "starttls",
    verify: null,
    credentials: null,
    peer: {
      options: () => memberTls.connectOptions(),
      check: (secure) => {
        const why = memberTls.refusal(secure, expected);
        return why === null ? null : `member TLS: ${why}`;
      },
    },
  };
}
