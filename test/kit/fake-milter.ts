// A scriptable milter on 127.0.0.1 (port 0) for tests: it negotiates like libmilter (version 6,
// the actions and protocol flags the test gives), records every command it is sent, and
// answers each with what the test's script says: a list of reply frames, or misbehaviour
// (close the connection, never answer, send garbage, stop reading). Written against the protocol as
// documented, independently of src/proto/milter, so the two check each other.
import net from "node:net";

export interface MilterCommand {
  readonly cmd: string;
  readonly data: Buffer;
}

/** What to do with one command. */
export type Answer =
  | { readonly kind: "frames"; readonly frames: readonly Buffer[] }
  | { readonly kind: "close" }
  | { readonly kind: "silent" }
  | { readonly kind: "garbage" }
  /** Stop reading the socket (the MTA's writes back up). */
  | { readonly kind: "stall" };

export interface FakeMilterOptions {
  readonly actions?: number;
  readonly protocol?: number;
  /** The answer to a command; undefined: the default (continue, nothing for macros/abort/quit). */
  readonly script?: (c: MilterCommand, conn: number) => Answer | undefined;
}

export interface FakeMilter {
  readonly port: number;
  /** Every command received, per connection, in order. */
  readonly connections: MilterCommand[][];
  /** How many reads (socket data events) each connection took: how the MTA batched its writes. */
  readonly reads: number[];
  stop(): Promise<void>;
}

export const frameOf = (cmd: string, data: Buffer = Buffer.alloc(0)): Buffer => {
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(data.length + 1, 0);
  head.write(cmd, 4, "latin1");
  return Buffer.concat([head, data]);
};

export const cont = (): Answer => ({ kind: "frames", frames: [frameOf("c")] });
export const addHeader = (name: string, value: string): Buffer =>
  frameOf("h", Buffer.from(`${name}\0${value}\0`));
export const replyCode = (text: string): Buffer => frameOf("y", Buffer.from(`${text}\0`));

const NO_REPLY = new Set(["D", "A", "Q"]);

export async function startFakeMilter(o: FakeMilterOptions = {}): Promise<FakeMilter> {
  const connections: MilterCommand[][] = [];
  const reads: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => undefined);
    const seen: MilterCommand[] = [];
    const conn = connections.length;
    connections.push(seen);
    reads.push(0);
    let buf = Buffer.alloc(0);
    let dead = false;
    sock.on("data", (chunk: Buffer) => {
      reads[conn]! += 1;
      buf = Buffer.concat([buf, chunk]);
      while (!dead && buf.length >= 4) {
        const len = buf.readUInt32BE(0);
        if (buf.length < 4 + len) return;
        const c = { cmd: String.fromCharCode(buf[4]!), data: buf.subarray(5, 4 + len) };
        buf = buf.subarray(4 + len);
        seen.push(c);
        if (c.cmd === "O") {
          const d = Buffer.alloc(12);
          d.writeUInt32BE(6, 0);
          d.writeUInt32BE(o.actions ?? 0x1ff, 4);
          d.writeUInt32BE(o.protocol ?? 0, 8);
          sock.write(frameOf("O", d));
          continue;
        }
        const answer = o.script?.(c, conn) ?? (NO_REPLY.has(c.cmd) ? undefined : cont());
        if (answer === undefined) continue;
        switch (answer.kind) {
          case "frames":
            for (const f of answer.frames) sock.write(f);
            break;
          case "close":
            dead = true;
            sock.destroy();
            return;
          case "silent":
            dead = true;
            return;
          case "garbage":
            dead = true;
            sock.write("HTTP/1.1 400 Bad Request\r\n\r\n");
            return;
          case "stall":
            dead = true;
            sock.pause();
            return;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections,
    reads,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
