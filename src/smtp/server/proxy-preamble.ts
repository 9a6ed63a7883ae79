// The SMTP listener's preamble for load balancers (smtp.proxyProtocolFrom): a connection from a
// listed balancer must start with a PROXY v1 or v2 header naming the real client, which then
// replaces the TCP peer for relay control, limits, Received: and logs. A connection from any
// other address gets no special treatment: the header is never looked for, so a client cannot
// spoof its address by sending one (the spec forbids guessing whether a header is present).
//
// The header is read before the greeting, in paused mode, bounded in bytes (the parser's limits)
// and in time; the bytes after it are put back into the socket for the session to read. Any
// failure rejects, and the session closes without a greeting (session.ts logs why).
import net, { type Socket } from "node:net";
import type { Log } from "../../log/logger.js";
import { parseProxyHeader } from "../../proto/proxy-header.js";
import { parseCidr } from "../../proto/cidr.js";
import type { Clock } from "../../world/clock.js";
import type { Endpoint } from "../handler.js";

/** A sensible header timeout: the spec asks for at least 3 s, to cover a TCP retransmit. */
export const DEFAULT_PROXY_TIMEOUT_MS = 5_000;

export interface ProxyPreambleOptions {
  /** Balancer networks (CIDR, or a bare address); empty: no connection carries a header. */
  readonly from: readonly string[];
  /** How long a balancer has to send the whole header after connecting. */
  readonly timeoutMs: number;
  /** The listener's log (SMTPI). */
  readonly log: Log;
  readonly clock: Clock;
}

export type Preamble = (socket: Socket) => Promise<Endpoint | null>;

/** The preamble for createSmtpServer; throws on a bad entry in `from` (a configuration error). */
export function proxyPreamble(o: ProxyPreambleOptions): Preamble {
  const balancers = parseBalancers(o.from);
  return async (socket) => {
    const peer = socket.remoteAddress ?? "";
    if (!balancers(peer)) return null;
    const header = await readHeader(socket, o.timeoutMs, o.clock);
    const log = o.log.with(0, peer);
    const via = `${peer}:${socket.remotePort ?? 0}`;
    if (header.kind === "local") {
      log.info("PROXY header: balancer's own connection", { peer: via, version: header.version });
      return null;
    }
    log.info("PROXY header", {
      peer: via,
      client: `${header.source.address}:${header.source.port}`,
      version: header.version,
    });
    return header.source;
  };
}

type Complete = Extract<ReturnType<typeof parseProxyHeader>, { kind: "proxied" | "local" }>;

/** Read the whole header; the socket is left positioned just after it. */
function readHeader(socket: Socket, timeoutMs: number, clock: Clock): Promise<Complete> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (result: Complete | Error, rest?: Buffer): void => {
      if (done) return;
      done = true;
      timer.cancel();
      socket.off("readable", onReadable);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onError);
      // Back to the front of the socket's buffer: the session's first read sees the client's bytes.
      if (rest !== undefined && rest.length > 0) socket.unshift(rest);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onReadable = (): void => {
      while (!done) {
        const chunk: unknown = socket.read();
        if (!Buffer.isBuffer(chunk)) return;
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        // The parser says invalid once buf passes its bounds, so buf stays small.
        const h = parseProxyHeader(buf);
        if (h.kind === "invalid") finish(new Error(`bad PROXY header: ${h.reason}`));
        else if (h.kind !== "incomplete") finish(h, buf.subarray(h.consumed));
      }
    };
    const onEnd = (): void => finish(new Error("connection closed before a complete PROXY header"));
    const onError = (e: Error): void =>
      finish(new Error(`socket error before the PROXY header: ${e.message}`));
    const timer = clock.setTimeout(
      () => finish(new Error(`no complete PROXY header within ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (socket.destroyed || socket.readableEnded) {
      onEnd();
      return;
    }
    socket.on("readable", onReadable);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onError);
  });
}

/** A membership test over CIDR networks; IPv4-mapped IPv6 peers (::ffff:a.b.c.d) match as IPv4. */
export function parseBalancers(cidrs: readonly string[]): (address: string) => boolean {
  if (cidrs.length === 0) return () => false;
  const list = new net.BlockList();
  for (const raw of cidrs) {
    const n = parseCidr(raw);
    if (typeof n === "string") throw new Error(`smtp.proxyProtocolFrom: "${raw}" ${n}`);
    list.addSubnet(n.address, n.prefix, n.family);
  }
  return (address) => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const a = mapped?.[1] ?? address;
    if (net.isIPv4(a)) return list.check(a, "ipv4");
    if (net.isIPv6(a)) return list.check(a, "ipv6");
    return false;
  };
}
