// The Received: trace header Mailyard prepends to every message it accepts (RFC 5321 §4.4),
// with the protocol keyword of RFC 3848 (ESMTP, ESMTPS, ESMTPA, ESMTPSA).
import { rfc5322Date } from "../proto/date.js";
import type { SessionInfo } from "../smtp/handler.js";

export function receivedHeader(
  s: SessionInfo,
  hostname: string,
  id: string,
  rcpts: readonly string[],
  at: number,
): Buffer {
  const proto = `${s.esmtp ? "ESMTP" : "SMTP"}${s.tls ? "S" : ""}${s.authUser !== null ? "A" : ""}`;
  // The HELO name is client-supplied: keep only characters that cannot break the header.
  const helo = (s.helo ?? "unknown").replace(/[^\x21-\x7e]/g, "?").slice(0, 255);
  const ip = s.remote.address.includes(":") ? `IPv6:${s.remote.address}` : s.remote.address;
  const forClause = rcpts.length === 1 ? `\r\n\tfor <${rcpts[0] ?? ""}>` : "";
  return Buffer.from(
    `Received: from ${helo} ([${ip}])\r\n\tby ${hostname} (Mailyard) with ${proto} id ${id}${forClause};\r\n\t${rfc5322Date(at)}\r\n`,
  );
}
