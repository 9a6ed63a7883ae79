// Client networks trusted to relay (smtp.relayNetworks). An empty list trusts no address.
// IPv4-mapped IPv6 client addresses (::ffff:a.b.c.d) are matched as IPv4.
import net from "node:net";
import { parseCidr } from "../proto/cidr.js";

export interface NetworkList {
  contains(address: string): boolean;
}

export function parseNetworks(cidrs: readonly string[]): NetworkList {
  const list = new net.BlockList();
  for (const raw of cidrs) {
    const n = parseCidr(raw);
    if (typeof n === "string") throw new Error(`smtp.relayNetworks: "${raw}" ${n}`);
    list.addSubnet(n.address, n.prefix, n.family);
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
