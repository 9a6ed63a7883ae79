// A raw capturing SMTP sink for smuggling tests: a net.Server on 127.0.0.1 port 0 that speaks
// just enough SMTP (no CHUNKING, so a client must use DATA) and records every DATA stream byte
// for byte, as sent, dot-stuffing and terminator included. It ends data only at CRLF.CRLF (the
// strict reading), so whatever a lenient server could take as an earlier end stays in the
// recorded stream for endOfDataLike() to find. Bounded: bytes and commands per connection.
import net from "node:net";

export interface CapturedTransaction {
  readonly from: string;
  readonly rcpts: readonly string[];
  /** Everything after the 354 up to and including the final CRLF.CRLF. */
  readonly stream: Buffer;
}

export interface CaptureSink {
  readonly port: number;
  readonly transactions: readonly CapturedTransaction[];
  close(): Promise<void>;
}

const MAX_BYTES = 20 * 1024 * 1024;
const MAX_COMMANDS = 200;
const END = Buffer.from("\r\n.\r\n");

export async function startCaptureSink(): Promise<CaptureSink> {
  const transactions: CapturedTransaction[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => sock.destroy());
    let buf = Buffer.alloc(0);
    let seen = 0;
    let commands = 0;
    let inData = false;
    let from = "";
    let rcpts: string[] = [];
    sock.write("220 capture.test ESMTP\r\n");
    sock.on("data", (d: Buffer) => {
      seen += d.length;
      if (seen > MAX_BYTES) return sock.destroy();
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (inData) {
          // The very first line "." ends an empty message; otherwise only CRLF.CRLF does.
          const at = buf.subarray(0, 3).equals(Buffer.from(".\r\n")) ? -2 : buf.indexOf(END);
          if (at === -1) return;
          const len = at === -2 ? 3 : at + END.length;
          transactions.push({ from, rcpts, stream: Buffer.from(buf.subarray(0, len)) });
          buf = buf.subarray(len);
          inData = false;
          sock.write("250 2.0.0 captured\r\n");
          continue;
        }
        const nl = buf.indexOf("\r\n");
        if (nl < 0) return;
        const line = buf.subarray(0, nl).toString("latin1");
        buf = buf.subarray(nl + 2);
        if (++commands > MAX_COMMANDS) return sock.destroy();
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO") sock.write("250-capture.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
        else if (verb === "MAIL") {
          from = /<([^>]*)>/.exec(line)?.[1] ?? "";
          rcpts = [];
          sock.write("250 2.1.0 OK\r\n");
        } else if (verb === "RCPT") {
          rcpts.push(/<([^>]*)>/.exec(line)?.[1] ?? "");
          sock.write("250 2.1.5 OK\r\n");
        } else if (verb === "DATA") {
          inData = true;
          sock.write("354 go ahead\r\n");
        } else if (verb === "QUIT") {
          sock.end("221 2.0.0 bye\r\n");
          return;
        } else sock.write("250 2.0.0 OK\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    transactions,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * What in a recorded DATA stream some server could read as an end of data before the final
 * CRLF.CRLF, or as a line ending that is not CRLF: empty when the stream is clean.
 */
export function endOfDataLike(stream: Buffer): string[] {
  const s = stream.toString("latin1");
  const inner = s === ".\r\n" ? "" : s.slice(0, s.length - END.length);
  const found: string[] = [];
  for (const seq of ["\n.\n", "\n.\r\n", "\r.\r", "\r.\n", "\r\n.\r\n"]) {
    if (inner.includes(seq)) found.push(JSON.stringify(seq));
  }
  if (/\r(?!\n)/.test(inner)) found.push("bare CR");
  if (/(?<!\r)\n/.test(inner)) found.push("bare LF");
  if (inner.includes("\x00")) found.push("NUL");
  return found;
}
