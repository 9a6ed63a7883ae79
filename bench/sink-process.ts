// The relay sink, in its own process (started by sink.ts): an SMTP server on loopback that
// accepts every message, counts messages and recipients, records when the last one arrived, and
// throws the bytes away. Both MTAs relay into the same sink. It advertises PIPELINING and
// CHUNKING (RFC 3030 BDAT, as Postfix's smtpd does since 3.4; a client that does not use BDAT
// sends DATA as before) and handles commands in batches, one write per batch of replies, so it
// is never the slow side.
// Input comes from the MTAs under test and is bounded: command lines up to 4 KB, 1000 RCPTs.
import net from "node:net";
import { performance } from "node:perf_hooks";
import type { SinkReply, SinkRequest } from "./sink.js";

const MAX_LINE = 4096;
const MAX_RCPT = 1000;
const EOD = Buffer.from("\r\n.\r\n");
const epochMs = (): number => performance.timeOrigin + performance.now();

let messages = 0;
let recipients = 0;
let firstAtMs = 0;
let lastAtMs = 0;
let connections = 0;
let cpuBase = process.cpuUsage();

function session(sock: net.Socket): void {
  connections++;
  let inData = false;
  /** Bytes of the current BDAT chunk still to come, and whether it is the LAST one. */
  let chunkLeft = 0;
  let chunkLast = false;
  /** A BDAT command was read and its reply is owed once its bytes (maybe none) are in. */
  let bdatPending = false;
  let quit = false;
  let rcpts = 0;
  let pending = Buffer.alloc(0);
  // The last bytes of data seen, so an end marker split across reads is still found. Starting
  // with CRLF makes an empty message (".\r\n" at once) end too.
  let tail = Buffer.from("\r\n");
  sock.on("error", () => undefined);
  sock.write("220 sink.bench.test ESMTP\r\n");

  const endOfData = (chunk: Buffer): number => {
    const probe = Buffer.concat([tail, chunk.subarray(0, EOD.length - 1)]);
    const p = probe.indexOf(EOD);
    if (p >= 0) return p + EOD.length - tail.length;
    const i = chunk.indexOf(EOD);
    if (i >= 0) return i + EOD.length;
    const joined = chunk.length >= EOD.length - 1 ? chunk : Buffer.concat([tail, chunk]);
    tail = Buffer.from(joined.subarray(joined.length - (EOD.length - 1)));
    return -1;
  };

  /** A whole message is in: count it and say so. */
  const arrived = (): string => {
    messages++;
    recipients += rcpts;
    lastAtMs = epochMs();
    if (firstAtMs === 0) firstAtMs = lastAtMs;
    rcpts = 0;
    return "250 2.0.0 Ok: queued\r\n";
  };

  const command = (line: string): string => {
    const verb = line.slice(0, 4).toUpperCase();
    switch (verb) {
      case "EHLO":
        return "250-sink.bench.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 SIZE 209715200\r\n";
      case "HELO":
        return "250 sink.bench.test\r\n";
      case "MAIL":
        rcpts = 0;
        return "250 2.1.0 Ok\r\n";
      case "RCPT":
        if (rcpts >= MAX_RCPT) return "452 4.5.3 Too many recipients\r\n";
        rcpts++;
        return "250 2.1.5 Ok\r\n";
      case "DATA":
        if (rcpts === 0) return "503 5.5.1 No valid recipients\r\n";
        inData = true;
        tail = Buffer.from("\r\n");
        return "354 End data with <CR><LF>.<CR><LF>\r\n";
      case "BDAT": {
        const m = /^BDAT (\d{1,12})( LAST)?$/i.exec(line);
        if (m === null) return "501 5.5.4 Syntax: BDAT size [LAST]\r\n";
        chunkLeft = Number(m[1]);
        chunkLast = m[2] !== undefined;
        bdatPending = true;
        // The reply is sent once the chunk's bytes are in (see the data handler).
        return "";
      }
      case "RSET":
        rcpts = 0;
        return "250 2.0.0 Ok\r\n";
      case "NOOP":
        return "250 2.0.0 Ok\r\n";
      case "QUIT":
        quit = true;
        return "221 2.0.0 Bye\r\n";
      default:
        return "502 5.5.2 Command not recognized\r\n";
    }
  };

  sock.on("data", (chunk: Buffer) => {
    let out = "";
    let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    for (;;) {
      if (bdatPending) {
        const take = Math.min(chunkLeft, buf.length);
        chunkLeft -= take;
        buf = buf.subarray(take);
        if (chunkLeft > 0) break;
        bdatPending = false;
        if (!chunkLast) out += "250 2.0.0 Ok: chunk\r\n";
        else out += rcpts === 0 ? "554 5.5.1 No valid recipients\r\n" : arrived();
        continue;
      }
      if (buf.length === 0) break;
      if (inData) {
        const end = endOfData(buf);
        if (end < 0) break;
        inData = false;
        out += arrived();
        buf = buf.subarray(end);
        continue;
      }
      const nl = buf.indexOf("\r\n");
      if (nl < 0) {
        if (buf.length > MAX_LINE) {
          sock.destroy();
          return;
        }
        pending = Buffer.from(buf);
        break;
      }
      out += command(buf.toString("latin1", 0, nl));
      buf = buf.subarray(nl + 2);
      if (quit) break;
    }
    // Replies to everything pipelined before QUIT go out first (RFC 2920 §3.1).
    if (quit) sock.end(out);
    else if (out) sock.write(out);
  });
  sock.on("close", () => connections--);
}

// No Nagle, as in Mailyard's and Postfix's SMTP servers' reply paths: a BDAT message that spans
// several reads gets its MAIL/RCPT replies early and its BDAT reply later, and Nagle would hold
// the later one back until the client's delayed ACK.
const server = net.createServer({ noDelay: true }, session);
const port = Number(process.argv[2]);
server.listen(port, "127.0.0.1", () => process.send?.({ type: "listening" } satisfies SinkReply));

process.on("message", (m: SinkRequest) => {
  if (m.type === "reset") {
    messages = recipients = firstAtMs = lastAtMs = 0;
    cpuBase = process.cpuUsage();
  }
  const u = process.cpuUsage(cpuBase);
  process.send?.({
    type: "stats",
    messages,
    recipients,
    firstAtMs,
    lastAtMs,
    connections,
    cpuSeconds: (u.user + u.system) / 1e6,
  } satisfies SinkReply);
});
process.on("disconnect", () => process.exit(0));
