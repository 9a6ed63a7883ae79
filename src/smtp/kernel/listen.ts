// Binding a line-protocol listener (SMTP, POP3, the delivery channel): listen, and resolve with
// the address and port actually bound (port 0 picks one), or reject with the bind error.
import type net from "node:net";

export interface Bound {
  readonly address: string;
  readonly port: number;
}

export function listenOn(server: net.Server, host: string, port: number): Promise<Bound> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const a = server.address();
      resolve(
        typeof a === "object" && a !== null ? { address: a.address, port: a.port } : { address: host, port },
      );
    });
  });
}
