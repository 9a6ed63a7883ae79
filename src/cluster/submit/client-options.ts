// How this node dials another member over the member SMTP transport (remote submit, drain's
// hand-over, shadow copies): its identity, the outbound timeouts and cluster TLS, from the
// settings, in one place. Shadows wait for the peer's fsync with their own data timeout.
import type { Settings } from "../../config/settings.js";
import type { Clock } from "../../world/clock.js";
import type { Dialer } from "../../world/dialer.js";
import type { MemberTls } from "../tls/member-tls.js";
import type { RemoteSubmitClientOptions } from "./client.js";

export function memberClientOptions(
  settings: Settings,
  world: { readonly dialer: Dialer; readonly clock: Clock },
  memberTls: MemberTls | null,
  dataTimeoutMs = settings.smtp.outbound.dataTimeoutSeconds * 1000,
): RemoteSubmitClientOptions {
  const out = settings.smtp.outbound;
  return {
    secret: settings.cluster.secret,
    nodeId: settings.node.id,
    helo: settings.hostname,
    dialer: world.dialer,
    clock: world.clock,
    connectTimeoutMs: out.connectTimeoutSeconds * 1000,
    commandTimeoutMs: out.commandTimeoutSeconds * 1000,
    dataTimeoutMs,
    proxyFrom: settings.smtp.proxyProtocolFrom,
    memberTls,
  };
}
