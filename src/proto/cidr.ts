// An IP address or a CIDR network as written in settings (smtp.relayNetworks,
// smtp.proxyProtocolFrom): one parser, so the schema that checks a setting at load and the code
// that builds the address list from it agree on what a network is. No I/O.
import { isIPv4, isIPv6 } from "node:net";

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: "ipv4" | "ipv6";
}

/** The network, or why `text` is not one: a phrase to follow the quoted text in a message. */
export function parseCidr(text: string): Cidr | string {
  const [address = "", bits, extra] = text.trim().split("/");
  const family = isIPv6(address) ? "ipv6" : isIPv4(address) ? "ipv4" : null;
  if (family === null || extra !== undefined) return "is not an IP address or CIDR";
  const max = family === "ipv4" ? 32 : 128;
  // Digits only: Number("") is 0, which would make "10.0.0.0/" every IPv4 address.
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!Number.isInteger(prefix) || prefix > max) return "has a bad prefix length";
  return { address, prefix, family };
}
