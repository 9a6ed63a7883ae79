// A loopback DNS server (UDP, port 0) for real peers that resolve names themselves (rspamd):
// every query gets NXDOMAIN (RFC 1035 §4.1.1 RCODE 3) with its question echoed, so the peer
// never waits on a timeout and never reaches a real resolver. Counts the queries it answered.
import dgram from "node:dgram";

export interface NxDns {
  readonly port: number;
  queries(): number;
  stop(): Promise<void>;
}

export async function startNxDns(): Promise<NxDns> {
  const sock = dgram.createSocket("udp4");
  let count = 0;
  sock.on("message", (msg, rinfo) => {
    if (msg.length < 12) return;
    count++;
    const out = Buffer.from(msg);
    // QR=1, opcode kept, RD kept, RA=1, RCODE=3; no answers, authority or additional records.
    out[2] = 0x80 | (msg[2]! & 0x79);
    out[3] = 0x80 | 0x03;
    out.writeUInt16BE(0, 6);
    out.writeUInt16BE(0, 8);
    out.writeUInt16BE(0, 10);
    // Only the question section follows the header: drop anything after it (EDNS OPT records).
    let at = 12;
    for (let q = msg.readUInt16BE(4); q > 0 && at < msg.length; q--) {
      while (at < msg.length && msg[at] !== 0) at += msg[at]! + 1;
      at += 5;
    }
    sock.send(out.subarray(0, Math.min(at, out.length)), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  return {
    port: sock.address().port,
    queries: () => count,
    stop: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}
