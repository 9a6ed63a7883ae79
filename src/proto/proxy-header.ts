// The PROXY protocol header a load balancer puts before the client's bytes (HAProxy's
// proxy-protocol.txt, versions 1 and 2), parsed from the start of a connection's input. No I/O.
//
// The header comes from a trusted balancer but is still checked strictly: anything that does not
// match the spec exactly is invalid (the spec says to abort), and every length is bounded so a
// broken or hostile peer cannot make the reader buffer without limit.
//
// "local" means: use the TCP peer as the client. It covers the v2 LOCAL command (health checks),
// v1 UNKNOWN and v2 PROXY with a family or transport this receiver does not use (AF_UNSPEC,
// AF_UNIX, UDP), which the spec says fall back to the real connection endpoints.
import { isIPv6, SocketAddress } from "node:net";

export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

export type ProxyHeader =
  | {
      readonly kind: "proxied";
      readonly version: 1 | 2;
      readonly source: ProxyEndpoint;
      readonly destination: ProxyEndpoint;
      /** Bytes of the header; the client's own bytes start here. */
      readonly consumed: number;
    }
  | { readonly kind: "local"; readonly version: 1 | 2; readonly consumed: number }
  /** A valid header may still follow: read more and parse again from the start. */
  | { readonly kind: "incomplete" }
  | { readonly kind: "invalid"; readonly reason: string };

/** Longest v1 line including CRLF (the spec's worst case, "PROXY UNKNOWN" with v6 fields). */
export const MAX_V1_LENGTH = 107;
/** Largest v2 address-plus-TLV block accepted (an AF_UNIX block is 216; TLVs are skipped). */
export const MAX_V2_BLOCK = 2048;

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from("PROXY ", "latin1");

const invalid = (reason: string): ProxyHeader => ({ kind: "invalid", reason });
const INCOMPLETE: ProxyHeader = { kind: "incomplete" };

/** Parse the header at the start of buf (everything received so far). */
export function parseProxyHeader(buf: Buffer): ProxyHeader {
  if (startsWith(buf, V2_SIGNATURE)) return buf.length < V2_SIGNATURE.length ? INCOMPLETE : parseV2(buf);
  if (startsWith(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? INCOMPLETE : parseV1(buf);
  return buf.length === 0 ? INCOMPLETE : invalid("not a PROXY protocol header");
}

/** buf starts with as much of prefix as it holds (a short buf may still become a match). */
function startsWith(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

// ---- version 1 ---------------------------------------------------------------------------------

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PORT = /^(0|[1-9]\d{0,4})$/;

function parseV1(buf: Buffer): ProxyHeader {
  const window = buf.subarray(0, MAX_V1_LENGTH);
  const crlf = window.indexOf("\r\n", 0, "latin1");
  // Without a CRLF yet, a CR as the very last byte may be the first half of it.
  const lineEnd = crlf >= 0 ? crlf : window.at(-1) === 0x0d ? window.length - 1 : window.length;
  // A lone CR or LF cannot end the line, and no other control character belongs in it.
  for (let i = 0; i < lineEnd; i++) {
    const c = window[i] ?? 0;
    if (c < 0x20 || c > 0x7e) return invalid("v1: control or non-ASCII byte in the line");
  }
  if (crlf < 0) {
    if (buf.length >= MAX_V1_LENGTH) return invalid(`v1: no CRLF within ${MAX_V1_LENGTH} bytes`);
    return INCOMPLETE;
  }
  const consumed = crlf + 2;
  const fields = window.toString("latin1", 0, crlf).split(" ");
  const proto = fields[1];
  if (proto === "UNKNOWN") return { kind: "local", version: 1, consumed };
  if (proto !== "TCP4" && proto !== "TCP6") return invalid("v1: protocol is not TCP4, TCP6 or UNKNOWN");
  if (fields.length !== 6) return invalid("v1: expected exactly 4 fields after the protocol");
  const [, , src = "", dst = "", sport = "", dport = ""] = fields;
  const source = v1Address(proto, src);
  const destination = v1Address(proto, dst);
  if (source === null || destination === null) return invalid(`v1: bad ${proto} address`);
  const sp = v1Port(sport);
  const dp = v1Port(dport);
  if (sp === null || dp === null) return invalid("v1: bad port");
  return {
    kind: "proxied",
    version: 1,
    source: { address: source, port: sp },
    destination: { address: destination, port: dp },
    consumed,
  };
}

function v1Address(proto: "TCP4" | "TCP6", text: string): string | null {
  if (proto === "TCP4") return IPV4.test(text) ? text : null;
  // Hex groups and colons (a dotted IPv4 tail allowed); no zone index.
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !isIPv6(text)) return null;
  return canonicalV6(text);
}

function v1Port(text: string): number | null {
  if (!PORT.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

// ---- version 2 ---------------------------------------------------------------------------------

const CMD_LOCAL = 0x0;
const CMD_PROXY = 0x1;
const AF_INET = 0x1;
const AF_INET6 = 0x2;
const AF_UNIX = 0x3;
const T_STREAM = 0x1;
const T_DGRAM = 0x2;

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < 13) return INCOMPLETE;
  const verCmd = buf[12] ?? 0;
  if (verCmd >> 4 !== 2) return invalid("v2: version is not 2");
  const cmd = verCmd & 0x0f;
  if (cmd !== CMD_LOCAL && cmd !== CMD_PROXY) return invalid("v2: unknown command");
  if (buf.length < 14) return INCOMPLETE;
  const famByte = buf[13] ?? 0;
  const family = famByte >> 4;
  const transport = famByte & 0x0f;
  if (family > AF_UNIX) return invalid("v2: unknown address family");
  if (transport > T_DGRAM) return invalid("v2: unknown transport");
  if (buf.length < 16) return INCOMPLETE;
  const len = buf.readUInt16BE(14);
  if (len > MAX_V2_BLOCK) return invalid(`v2: address block of ${len} bytes is over ${MAX_V2_BLOCK}`);
  const consumed = 16 + len;
  if (buf.length < consumed) return INCOMPLETE;
  // LOCAL: the balancer's own connection (health check); the address block is ignored.
  if (cmd === CMD_LOCAL) return { kind: "local", version: 2, consumed };
  // AF_UNSPEC, AF_UNIX, UNSPEC or DGRAM transport: the spec's fallback to the real endpoints.
  if (transport !== T_STREAM || (family !== AF_INET && family !== AF_INET6)) {
    return { kind: "local", version: 2, consumed };
  }
  // Source address, destination address, source port, destination port.
  const [size, text, name] = family === AF_INET ? [4, ipv4, "AF_INET"] : [16, ipv6, "AF_INET6"];
  const block = buf.subarray(16, consumed);
  if (block.length < 2 * size + 4)
    return invalid(`v2: ${name} address block shorter than ${2 * size + 4} bytes`);
  return {
    kind: "proxied",
    version: 2,
    source: { address: text(block.subarray(0, size)), port: block.readUInt16BE(2 * size) },
    destination: { address: text(block.subarray(size, 2 * size)), port: block.readUInt16BE(2 * size + 2) },
    consumed,
  };
}

const ipv4 = (b: Buffer): string => `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;

function ipv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return canonicalV6(groups.join(":"));
}

/** The compressed form (RFC 5952), so one client always looks the same in logs and checks. */
const canonicalV6 = (text: string): string => new SocketAddress({ address: text, family: "ipv6" }).address;
