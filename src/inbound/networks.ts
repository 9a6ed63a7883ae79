// Client networks trusted to relay (smtp.relayNetworks). An empty list trusts no address.
// IPv4-mapped IPv6 client addresses (::ffff:a.b.c.d) are matched as IPv4.
import net from "node:net";

export interface NetworkList {
  contains(address: string): boolean;
}

export function parseNetworks(cidrs: readonly string[]): NetworkList {
  const list = new net.BlockList();
  for (const raw of cidrs) {
    const [addr = "", bits] = raw.trim().split("/");
    const family = net.isIPv6(addr) ? "ipv6" : net.isIPv4(addr) ? "ipv4" : null;
    if (family === null) throw new Error(`smtp.relayNetworks: "${raw}" is not an IP address or CIDR`);
    const max = family === "ipv4" ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new Error(`smtp.relayNetworks: "${raw}" has a bad prefix length`);
    }
    list.addSubnet(addr, prefix, family);
  }
  return {
    contains(address) {
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
      const a = mapped?.[1] ?? address;
      if (net.isIPv4(a)) return list.check(a, "ipv4");
      if (net.isIPv6(a)) return list.check(a, "ipv6");
      return false;
    },
  };
}
