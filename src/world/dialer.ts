// The outside network as a dependency: every outbound TCP connection goes through a Dialer, so
// tests can send "remote" mail to loopback peers they started, and nothing reaches real hosts.
import net from "node:net";

export interface DialOptions {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly localAddress?: string;
}

export interface Dialer {
  /** Resolves with a connected socket, or rejects with an Error whose message says why. */
  connect(opts: DialOptions): Promise<net.Socket>;
}

export const tcpDialer: Dialer = {
  connect(opts) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({
        host: opts.host,
        port: opts.port,
        ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect to ${opts.host}:${opts.port} timed out`));
      }, opts.timeoutMs);
      sock.once("connect", () => {
        clearTimeout(timer);
        resolve(sock);
      });
      sock.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  },
};
