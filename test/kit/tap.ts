// A recording TCP relay for tests: listens on 127.0.0.1:0, forwards every connection to a
// target port and keeps what the client sent (latin1), so a test can see the bytes on the wire
// between a real client and a real server (which commands, how many writes).
import net from "node:net";

export interface Tap {
  readonly port: number;
  /** Everything clients sent, all connections in order of arrival. */
  sent(): string;
  close(): Promise<void>;
}

export async function startTap(targetPort: number): Promise<Tap> {
  let sent = "";
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: "127.0.0.1", port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    client.on("data", (d: Buffer) => {
      sent += d.toString("latin1");
      upstream.write(d);
    });
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    sent: () => sent,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
