// How a member certificate names its node: the subject CN is the node id (what peers check),
// and a DNS name <id>.mailyard.cluster is added when the id is a DNS label, for tools that
// verify by name (openssl s_client -verify_hostname). MEMBER_SNI is the server name a member
// asks for in its TLS ClientHello: on a listener that also serves the public (SMTP), it picks
// the member certificate instead of the public one. No I/O.
import type { PeerCertificate } from "node:tls";

export const CLUSTER_DOMAIN = "mailyard.cluster";
export const MEMBER_SNI = `member.${CLUSTER_DOMAIN}`;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

export const memberDnsName = (id: string): string | null =>
  LABEL.test(id) ? `${id}.${CLUSTER_DOMAIN}` : null;

/** The node id a certificate names (its subject CN), or null. */
export function certNodeId(cert: PeerCertificate | null | undefined): string | null {
  const cn: unknown = cert?.subject?.CN;
  // A certificate with two CNs has them as an array: it names no one node.
  return typeof cn === "string" && cn !== "" ? cn : null;
}
